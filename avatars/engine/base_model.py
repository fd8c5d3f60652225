"""Where a real base model comes from, which family it is, and whether this machine can run it.

`EngineSpec.base_model` is one of:
- a diffusers folder (model_index.json, unet/, vae/...): `from_pretrained`, family from
  model_index.json;
- one single-file checkpoint (.safetensors), the way most fine-tunes are shared:
  `from_single_file`, family from the weights' names (each family's `recognises_checkpoint`).
  An SD file holds the whole model's weights only, so the configs each SD family needs and
  CLIP's tokenizer ship in `model_configs/` (see its README for where each file comes from):
  nothing is downloaded. A Z-Image or FLUX.2 klein file holds the transformer alone, the way
  their makers publish it: the rest (Qwen3 text encoder, VAE, tokenizer, scheduler) comes from
  the diffusers folder LIKENESS_MODEL_CONFIG names;
- a hub id, read through the Hugging Face cache.

Every way this can go wrong raises `ModelLoadError`, which names the problem and its fix:
the operator reads it in `manage.py likeness_model check` and in a failed job's error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .families import FAMILIES, family, family_of_pipeline
from .families.sd15 import clip_tokenizer

if TYPE_CHECKING:
    import torch

SHIPPED_CONFIGS = Path(__file__).with_name("model_configs")
SAFE_CHECKPOINT_SUFFIXES = (".safetensors",)
# torch.load unpickles these, and unpickling can run any code the file's author wrote.
PICKLE_CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
# A GPU whose measured peak leaves less than this share of it free is too small: a longer
# prompt, a second process or the allocator's fragmentation would run it out mid-job.
GPU_MEMORY_HEADROOM = 0.10
GIB = 1024**3


class ModelLoadError(Exception):
    """A base model that cannot be used here, with what is wrong and what to do about it."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\nFix: {self.fix}"


def load_base_model(spec, *, dtype: "torch.dtype"):
    """The text-to-image pipeline `spec.base_model` names, and its family. `spec` is the
    pipeline module's EngineSpec (not imported here: pipeline imports this module)."""
    source = spec.base_model
    path = Path(source).expanduser()
    if path.is_dir():
        family_name = _agreed_family(folder_family(path), spec.family, source)
        return _from_pretrained(str(path), family_name=family_name, dtype=dtype), family_name
    if path.is_file():
        shapes = checkpoint_shapes(path, allow_pickle=spec.allow_pickle)
        family_name = _agreed_family(checkpoint_family(shapes, source=source), spec.family, source)
        return _from_single_file(path, family_name=family_name, model_config=spec.model_config, dtype=dtype), family_name
    if HUB_ID.fullmatch(source):
        family_name = _agreed_family(hub_family(source), spec.family, source)
        return _from_pretrained(source, family_name=family_name, dtype=dtype), family_name
    raise ModelLoadError(
        f"No model at {source}: there is no file or folder there.",
        "Set LIKENESS_BASE_MODEL to the path of a .safetensors checkpoint or of a diffusers model folder "
        "on this machine (an absolute path is safest), or to 'tiny' for the demo engine.",
    )


def folder_family(folder: Path) -> str:
    index = folder / "model_index.json"
    if not index.is_file():
        inside = sorted(path.name for path in folder.glob("*.safetensors"))
        hint = f" This folder holds {', '.join(inside)}: point at that file instead." if inside else ""
        raise ModelLoadError(
            f"{folder} is a folder but not a diffusers pipeline: it has no model_index.json.",
            "Point LIKENESS_BASE_MODEL at the folder that holds model_index.json, unet/ and vae/, "
            f"or at a single .safetensors checkpoint file.{hint}",
        )
    return _pipeline_family(json.loads(index.read_text()).get("_class_name"), source=str(folder))


def hub_family(hub_id: str) -> str:
    from diffusers import DiffusionPipeline

    try:
        config = DiffusionPipeline.load_config(hub_id)
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"No model at {hub_id}: there is no file or folder there, and no hub model of that id "
            f"could be read ({_first_line(error)}).",
            "Set LIKENESS_BASE_MODEL to a .safetensors checkpoint or a diffusers folder on this machine; "
            "a hub id works only where the hub (or its cache) is reachable.",
        ) from error
    return _pipeline_family(config.get("_class_name"), source=hub_id)


def checkpoint_shapes(path: Path, *, allow_pickle: bool) -> dict[str, tuple[int, ...]]:
    """Each weight's name and shape, read from the file's header (a pickle is loaded whole)."""
    suffix = path.suffix.lower()
    if suffix in PICKLE_CHECKPOINT_SUFFIXES:
        if not allow_pickle:
            raise ModelLoadError(
                f"{path} is a pickled checkpoint ({suffix}): loading one can run any code its author put in it, "
                "so Likeness refuses it.",
                "Convert it to .safetensors once, on a machine you don't mind it running on: python -c "
                "\"import torch, safetensors.torch as st; s = torch.load('model.ckpt', map_location='cpu', "
                "weights_only=True); s = s.get('state_dict', s); st.save_file({k: v.contiguous() for k, v in "
                "s.items() if isinstance(v, torch.Tensor)}, 'model.safetensors')\" and point "
                "LIKENESS_BASE_MODEL at the .safetensors file. If you trust where the file came from, "
                "LIKENESS_ALLOW_PICKLE_CHECKPOINTS=true loads it as it is.",
            )
        from diffusers.loaders.single_file_utils import load_single_file_checkpoint

        try:
            state = load_single_file_checkpoint(str(path), local_files_only=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise _not_a_checkpoint(path, error) from error
        return {name: tuple(tensor.shape) for name, tensor in state.items() if hasattr(tensor, "shape")}
    if suffix not in SAFE_CHECKPOINT_SUFFIXES:
        raise _not_a_checkpoint(
            path, f"Likeness reads .safetensors checkpoints, not {suffix or 'extensionless'} files"
        )
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as weights:
            return {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}
    except Exception as error:  # safetensors reports a damaged header with its own Rust-side error types
        raise _not_a_checkpoint(path, error) from error


def checkpoint_family(shapes: Mapping[str, Sequence[int]], *, source: str) -> str:
    """The family whose single-file layout the checkpoint has: a transformer family's by its
    own weights' names, an SD family's by which text encoders it holds. The SD names are
    diffusers' own markers (`CHECKPOINT_KEY_NAMES`), chosen among them so that they hold
    whatever a model's depth: its infer_diffusers_model_type also tests a 10th layer, which a
    pruned or tiny model lacks."""
    from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES, LDM_UNET_KEY

    transformer_families = [member for member in FAMILIES.values() if member.denoiser_name == "transformer"]
    for member in transformer_families:
        if member.recognises_checkpoint(shapes):
            return member.name
    if not any(name.startswith(LDM_UNET_KEY) for name in shapes):
        raise ModelLoadError(
            f"{source} is not a checkpoint of a model Likeness runs: it has neither UNet weights "
            f"({LDM_UNET_KEY}...) nor a {' or '.join(member.display_name for member in transformer_families)} "
            "transformer. It may be a LoRA, a VAE or an embedding rather than a whole model.",
            "Point LIKENESS_BASE_MODEL at the full model file (SD 1.5 fine-tunes are 2-4 GB, SDXL ones 6-7 GB; "
            "a Z-Image or FLUX.2 klein transformer file, with LIKENESS_MODEL_CONFIG set to its diffusers folder).",
        )
    first_layer = shapes.get(CHECKPOINT_KEY_NAMES["inpainting"])
    if first_layer is not None and len(first_layer) > 1 and first_layer[1] != 4:
        raise _unsupported(source, "an inpainting model (its UNet takes a mask and a masked image too)")
    for member in FAMILIES.values():
        if member.denoiser_name == "unet" and member.recognises_checkpoint(shapes):
            return member.name
    if CHECKPOINT_KEY_NAMES["open_clip"] in shapes:
        raise _unsupported(source, "a Stable Diffusion 2.x model")
    if CHECKPOINT_KEY_NAMES["open_clip_sdxl_refiner"] in shapes:
        raise _unsupported(source, "the SDXL refiner, which only finishes other models' images")
    raise _unsupported(source, "a model without the text encoders of SD 1.5 or SDXL")


def shipped_config(family: str, component: str) -> dict:
    """The published config of one of the family's modules (unet, vae, text_encoder, text_encoder_2,
    scheduler), as diffusers or transformers read it."""
    folder = SHIPPED_CONFIGS / family / component
    name = "scheduler_config.json" if component == "scheduler" else "config.json"
    return json.loads((folder / name).read_text())


def cuda_problem(device: str) -> ModelLoadError | None:
    """Why `device` (cuda, cuda:N) can't be used here, or None when it can."""
    import torch

    fix = (
        "On a GPU machine, install torch's CUDA build (scripts/gpu-worker.sh --torch-index URL does) and check "
        "that nvidia-smi lists the GPU and CUDA_VISIBLE_DEVICES doesn't hide it; elsewhere set "
        "LIKENESS_DEVICE=auto or cpu."
    )
    if torch.version.cuda is None:
        return ModelLoadError(
            f"LIKENESS_DEVICE is {device}, but this torch ({torch.__version__}) is a build without CUDA.", fix
        )
    if not torch.cuda.is_available():
        return ModelLoadError(
            f"LIKENESS_DEVICE is {device}, but torch (CUDA {torch.version.cuda}) finds no CUDA GPU.", fix
        )
    index = torch.device(device).index or 0
    if index >= torch.cuda.device_count():
        return ModelLoadError(
            f"LIKENESS_DEVICE is {device}, but only {torch.cuda.device_count()} GPU(s) are visible.", fix
        )
    return None


def gpu_memory_problem(
    *, stage: str, peak_bytes: int, total_bytes: int, device_name: str
) -> ModelLoadError | None:
    """Too little GPU memory: `stage` took `peak_bytes` of the card's `total_bytes` at its peak,
    leaving less than GPU_MEMORY_HEADROOM of it free. None when it fits."""
    needed_gb = peak_bytes / (1 - GPU_MEMORY_HEADROOM) / GIB
    if peak_bytes <= total_bytes * (1 - GPU_MEMORY_HEADROOM):
        return None
    return ModelLoadError(
        f"Too little GPU memory: {stage} takes {peak_bytes / GIB:.1f} GB at its peak, and {device_name} has "
        f"{total_bytes / GIB:.1f} GB, less than {GPU_MEMORY_HEADROOM:.0%} to spare.",
        f"Use a GPU with at least {math.ceil(needed_gb)} GB, run nothing else on it (one worker per GPU), "
        "or choose a smaller model (an SD 1.5 fine-tune instead of SDXL).",
    )


def gpu_ran_out(*, stage: str, error: Exception, total_bytes: int, device_name: str) -> ModelLoadError:
    return ModelLoadError(
        f"Too little GPU memory: {device_name} ({total_bytes / GIB:.1f} GB) ran out while {stage} "
        f"({_first_line(error)}).",
        "Use a GPU with more memory, stop other processes on it (nvidia-smi lists them), "
        "or choose a smaller model (an SD 1.5 fine-tune instead of SDXL).",
    )


def _from_pretrained(source: str, *, family_name: str, dtype: "torch.dtype"):
    model_family = family(family_name)
    return model_family.pipeline_class().from_pretrained(
        source, dtype=dtype, **model_family.without_safety_checker()
    )


def _from_single_file(path: Path, *, family_name: str, model_config: str, dtype: "torch.dtype"):
    model_family = family(family_name)
    if model_family.denoiser_name == "transformer":
        return _transformer_from_single_file(path, model_family=model_family, model_config=model_config, dtype=dtype)
    config = Path(model_config).expanduser() if model_config else SHIPPED_CONFIGS / family_name
    if not (config / "model_index.json").is_file():
        raise ModelLoadError(
            f"LIKENESS_MODEL_CONFIG is {model_config}, which is not a diffusers model folder (no model_index.json).",
            "Set it to a diffusers folder of the checkpoint's architecture, or unset it to use the "
            f"{model_family.display_name} configs Likeness ships.",
        )
    # A config folder that has its own tokenizer (a whole diffusers model, say) supplies it.
    tokenizers = {}
    if not (config / "tokenizer").is_dir():
        tokenizers["tokenizer"] = clip_tokenizer()
        if "text_encoder_2" in model_family.text_encoder_names:
            # SDXL's OpenCLIP encoder was trained on captions padded with "!", not end-of-text.
            tokenizers["tokenizer_2"] = clip_tokenizer(pad_token="!")
    try:
        return model_family.pipeline_class().from_single_file(
            str(path),
            config=str(config),
            local_files_only=True,
            dtype=dtype,
            **tokenizers,
            **model_family.without_safety_checker(),
        )
    except (ValueError, KeyError, RuntimeError) as error:
        raise _does_not_fit(path, model_family, error) from error


def _transformer_from_single_file(path: Path, *, model_family, model_config: str, dtype: "torch.dtype"):
    """The transformer from `path` (diffusers' `from_single_file`, which reads the makers' own
    layout too), the text encoder, VAE, tokenizer and scheduler from the diffusers folder
    LIKENESS_MODEL_CONFIG names: a file of the transformer alone holds nothing else."""
    import importlib

    config = Path(model_config).expanduser() if model_config else None
    if config is None or not (config / "model_index.json").is_file():
        where = f"LIKENESS_MODEL_CONFIG is {model_config}, which is not" if model_config else "LIKENESS_MODEL_CONFIG names no"
        raise ModelLoadError(
            f"{path} holds a {model_family.display_name} transformer alone; {where} diffusers folder to take the "
            "text encoder, VAE, tokenizer and scheduler from.",
            f"{model_family.display_name} loads from a diffusers folder or a hub id in LIKENESS_BASE_MODEL, or from "
            "a transformer .safetensors file in LIKENESS_BASE_MODEL with LIKENESS_MODEL_CONFIG set to a diffusers "
            f"folder of the same model ({model_family.train_checkpoint}, downloaded once).",
        )
    folder_member = folder_family(config)
    if folder_member != model_family.name:
        raise ModelLoadError(
            f"{path} is a {model_family.display_name} transformer, but LIKENESS_MODEL_CONFIG ({config}) is a "
            f"{family(folder_member).display_name} folder.",
            f"Set LIKENESS_MODEL_CONFIG to a diffusers folder of {model_family.display_name}.",
        )
    transformer_class = getattr(importlib.import_module("diffusers"), model_family.denoiser_class_name)
    try:
        transformer = transformer_class.from_single_file(
            str(path), config=str(config), subfolder="transformer", local_files_only=True, dtype=dtype
        )
    except (ValueError, KeyError, RuntimeError, OSError) as error:
        raise _does_not_fit(path, model_family, error) from error
    return model_family.pipeline_class().from_pretrained(
        str(config), transformer=transformer, dtype=dtype, local_files_only=True
    )


def _does_not_fit(path: Path, model_family, error: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"{path} looks like {model_family.display_name} but its weights don't fit that architecture "
        f"({_first_line(error)}).",
        "Check that the file is complete (its size and checksum against where you got it); a model of "
        "another architecture needs LIKENESS_MODEL_CONFIG set to a diffusers folder that describes it.",
    )


def _pipeline_family(class_name: str | None, *, source: str) -> str:
    member = family_of_pipeline(class_name or "")
    if member is None:
        raise _unsupported(source, f"a {class_name or 'pipeline of unknown class'}")
    return member.name


def _agreed_family(detected: str, requested: str, source: str) -> str:
    if requested and requested != detected:
        raise ModelLoadError(
            f"{source} is {family(detected).display_name} ({detected}), but LIKENESS_MODEL_FAMILY says {requested}.",
            f"Unset LIKENESS_MODEL_FAMILY to use the family the weights say, or set it to {detected}.",
        )
    return detected


def _unsupported(source: str, what: str) -> ModelLoadError:
    names = ", ".join(member.display_name for member in FAMILIES.values())
    return ModelLoadError(
        f"{source} is {what}, not a model family Likeness runs ({names}).",
        "Use a base model of one of those families, or a fine-tune of one (a realistic-portrait "
        "fine-tune shared as one .safetensors file is the usual choice for SD; Z-Image and FLUX.2 klein "
        "load from a diffusers folder, a hub id, or their transformer file beside such a folder).",
    )


def _not_a_checkpoint(path: Path, reason) -> ModelLoadError:
    return ModelLoadError(
        f"{path} is not a checkpoint Likeness can read ({_first_line(reason)}).",
        "Point LIKENESS_BASE_MODEL at a .safetensors model file; if it is one, it may be cut short or damaged: "
        "compare its size and checksum with where you got it, and download it again.",
    )


def _first_line(reason) -> str:
    text = str(reason).strip()
    return text.splitlines()[0] if text else type(reason).__name__
