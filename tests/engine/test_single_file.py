"""A base model given as one single-file checkpoint, and every way loading one can go wrong."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from avatars.engine.base_model import (
    ModelLoadError,
    checkpoint_family,
    clip_tokenizer,
    gpu_memory_problem,
    shipped_config,
)
from avatars.engine.pipeline import EngineSpec, build_tiny_pipeline, get_engine
from avatars.engine.rendering import render
from tests.engine.ldm_layout import pipeline_to_ldm_state_dict, unet_to_ldm, vae_to_ldm

GIB = 1024**3


@pytest.fixture(scope="module", params=["sd15", "sdxl"])
def saved_tiny(request, tmp_path_factory):
    """The tiny pipeline of one family saved twice: as a diffusers folder and as one
    single-file checkpoint in the original layout."""
    family = request.param
    folder = tmp_path_factory.mktemp(f"tiny-{family}")
    pipeline = build_tiny_pipeline(seed=0, family=family)
    pipeline.save_pretrained(folder / "diffusers")
    checkpoint = folder / f"tiny-{family}.safetensors"
    save_file(pipeline_to_ldm_state_dict(pipeline, family), str(checkpoint))
    return family, folder / "diffusers", checkpoint


def _single_file_spec(saved_tiny, **changes) -> EngineSpec:
    _, folder, checkpoint = saved_tiny
    # The tiny engine's own configs describe its checkpoint; a real one gets the shipped ones.
    return EngineSpec(
        base_model=str(checkpoint), model_config=str(folder), device="cpu", resolution=64, **changes
    )


def test_the_original_layout_written_here_is_what_diffusers_reads_back(saved_tiny):
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    family, _, _ = saved_tiny
    pipeline = build_tiny_pipeline(seed=0, family=family)
    for module, original, convert in (
        (pipeline.unet, unet_to_ldm(pipeline.unet), convert_ldm_unet_checkpoint),
        (pipeline.vae, vae_to_ldm(pipeline.vae), convert_ldm_vae_checkpoint),
    ):
        prefix = "model.diffusion_model." if module is pipeline.unet else "first_stage_model."
        read_back = convert({prefix + name: tensor for name, tensor in original.items()}, module.config)
        expected = module.state_dict()
        assert read_back.keys() == expected.keys()
        assert all(torch.equal(read_back[name], expected[name]) for name in expected)


def test_a_single_file_checkpoint_loads_as_its_family_and_renders_like_its_folder(saved_tiny):
    family, folder, checkpoint = saved_tiny
    from_file = get_engine(_single_file_spec(saved_tiny))
    from_folder = get_engine(EngineSpec(base_model=str(folder), device="cpu", resolution=64))

    assert from_file.family == family
    assert not from_file.is_tiny
    assert from_file.label == str(checkpoint)
    assert type(from_file.pipeline) is type(from_folder.pipeline)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        module = getattr(from_folder.pipeline, name, None)
        if module is not None:
            loaded = getattr(from_file.pipeline, name).state_dict()
            assert all(torch.equal(loaded[key], tensor) for key, tensor in module.state_dict().items()), name
    arguments = {
        "lora_path": None,
        "identity_token": "sks",
        "subject_class": "man",
        "prompt": "",
        "steps": 2,
        "seed": 7,
    }
    file_pixels = np.asarray(render(from_file, **arguments).image, dtype=np.int16)
    folder_pixels = np.asarray(render(from_folder, **arguments).image, dtype=np.int16)
    assert file_pixels.std() > 0
    assert np.abs(file_pixels - folder_pixels).max() <= 1


def test_the_family_is_read_from_the_weights(saved_tiny):
    from safetensors import safe_open

    family, _, checkpoint = saved_tiny
    with safe_open(str(checkpoint), framework="pt") as weights:
        shapes = {name: weights.get_slice(name).get_shape() for name in weights.keys()}
    assert checkpoint_family(shapes, source=str(checkpoint)) == family


def test_a_family_setting_that_disagrees_with_the_weights_says_both(saved_tiny):
    family, _, _ = saved_tiny
    other = "sd15" if family == "sdxl" else "sdxl"
    with pytest.raises(ModelLoadError) as refused:
        get_engine(_single_file_spec(saved_tiny, family=other))
    message = str(refused.value)
    assert f"LIKENESS_MODEL_FAMILY says {other}" in message
    assert f"({family})" in message and f"set it to {family}" in message


def test_a_real_checkpoint_gets_the_shipped_full_size_configs(saved_tiny):
    """Without LIKENESS_MODEL_CONFIG the family's shipped configs are used: the tiny weights
    don't fit SD 1.5's or SDXL's full-size architecture, and the error says so."""
    _, _, checkpoint = saved_tiny
    with pytest.raises(ModelLoadError, match="weights don't fit that architecture"):
        get_engine(EngineSpec(base_model=str(checkpoint), device="cpu"))


def test_a_pickled_checkpoint_is_refused_unless_allowed(tmp_path):
    pipeline = build_tiny_pipeline(seed=0)
    pickled = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": pipeline_to_ldm_state_dict(pipeline, "sd15")}, pickled)
    pipeline.save_pretrained(tmp_path / "diffusers")

    with pytest.raises(ModelLoadError) as refused:
        get_engine(
            EngineSpec(base_model=str(pickled), model_config=str(tmp_path / "diffusers"), device="cpu")
        )
    assert "can run any code" in refused.value.problem
    assert "safetensors" in refused.value.fix and "LIKENESS_ALLOW_PICKLE_CHECKPOINTS" in refused.value.fix

    allowed = get_engine(
        EngineSpec(
            base_model=str(pickled), model_config=str(tmp_path / "diffusers"), device="cpu", allow_pickle=True
        )
    )
    assert allowed.family == "sd15"
    assert torch.equal(allowed.pipeline.unet.conv_in.weight, pipeline.unet.conv_in.weight)


def test_a_path_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "models" / "realistic.safetensors"
    with pytest.raises(ModelLoadError, match="No model at .*there is no file or folder there") as refused:
        get_engine(EngineSpec(base_model=str(missing), device="cpu"))
    assert str(missing) in str(refused.value)


def test_a_folder_that_is_not_a_pipeline_points_at_the_checkpoint_inside(tmp_path, saved_tiny):
    _, _, checkpoint = saved_tiny
    (tmp_path / checkpoint.name).write_bytes(b"")
    with pytest.raises(
        ModelLoadError, match="not a diffusers pipeline: it has no model_index.json"
    ) as refused:
        get_engine(EngineSpec(base_model=str(tmp_path), device="cpu"))
    assert f"This folder holds {checkpoint.name}" in refused.value.fix


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    damaged = tmp_path / "model.safetensors"
    damaged.write_bytes(b"<html>404 Not Found</html>")
    lora = tmp_path / "lora.safetensors"
    save_file({"unet.down_blocks.0.attentions.0.to_q.lora_A.weight": torch.zeros(4, 32)}, str(lora))
    text = tmp_path / "notes.txt"
    text.write_text("not weights")

    for path, problem in (
        (damaged, "not a checkpoint Likeness can read"),
        (lora, "not a checkpoint of a model Likeness runs: it has neither UNet weights"),
        (text, "not a checkpoint Likeness can read"),
    ):
        with pytest.raises(ModelLoadError, match=problem):
            get_engine(EngineSpec(base_model=str(path), device="cpu"))


@pytest.mark.parametrize(
    ("shapes", "what"),
    [
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (320, 9, 3, 3),
                "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": (77, 768),
            },
            "inpainting",
        ),
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
                "cond_stage_model.model.token_embedding.weight": (49408, 1024),
            },
            "Stable Diffusion 2.x",
        ),
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (384, 4, 3, 3),
                "conditioner.embedders.0.model.text_projection": (1280, 1280),
            },
            "SDXL refiner",
        ),
    ],
)
def test_other_model_kinds_are_refused_by_name(shapes, what):
    with pytest.raises(ModelLoadError, match=f"{what}.*not a model family Likeness runs"):
        checkpoint_family(shapes, source="other.safetensors")


@pytest.mark.parametrize(
    ("family", "figures"),
    [
        # The published parameter counts of SD 1.5 and SDXL base 1.0.
        ("sd15", {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}),
        (
            "sdxl",
            {
                "unet": 2_567_463_684,
                "vae": 83_653_863,
                "text_encoder": 123_060_480,
                "text_encoder_2": 694_659_840,
            },
        ),
    ],
)
def test_the_shipped_configs_are_the_published_architectures_and_read_as_their_family(family, figures):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device("meta"):
        modules = {
            "unet": UNet2DConditionModel.from_config(shipped_config(family, "unet")),
            "vae": AutoencoderKL.from_config(shipped_config(family, "vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_dict(shipped_config(family, "text_encoder"))),
        }
        if family == "sdxl":
            second = CLIPTextConfig.from_dict(shipped_config(family, "text_encoder_2"))
            modules["text_encoder_2"] = CLIPTextModelWithProjection(second)
    counts = {
        name: sum(parameter.numel() for parameter in module.parameters()) for name, module in modules.items()
    }
    assert counts == figures

    class Modules:
        pass

    pipeline = Modules()
    for name, module in modules.items():
        setattr(pipeline, name, module)
    original = pipeline_to_ldm_state_dict(pipeline, family)
    shapes = {name: tuple(tensor.shape) for name, tensor in original.items()}
    assert checkpoint_family(shapes, source=family) == family
    # diffusers' own reading of a full-size layout agrees.
    assert infer_diffusers_model_type(original) == {"sd15": "v1", "sdxl": "xl_base"}[family]


def test_the_shipped_tokenizer_is_openai_clips():
    tokenizer = clip_tokenizer()
    second = clip_tokenizer(pad_token="!")

    assert len(tokenizer) == 49408
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (49406, 49407, 49407)
    assert second.pad_token_id == 0
    assert second("a", padding="max_length", max_length=5).input_ids == [49406, 320, 49407, 0, 0]


def test_cuda_asked_for_on_a_machine_without_it_is_refused_before_loading():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelLoadError) as refused:
        get_engine(EngineSpec(base_model="/models/never-read.safetensors", device="cuda"))
    assert "LIKENESS_DEVICE is cuda" in refused.value.problem
    assert "CUDA build" in refused.value.fix and "LIKENESS_DEVICE=auto or cpu" in refused.value.fix


def test_the_gpu_memory_rule_wants_a_tenth_of_the_card_to_spare():
    roomy = gpu_memory_problem(
        stage="training", peak_bytes=11 * GIB, total_bytes=24 * GIB, device_name="RTX 4090"
    )
    tight = gpu_memory_problem(
        stage="training", peak_bytes=int(7.5 * GIB), total_bytes=8 * GIB, device_name="RTX 3070"
    )

    assert roomy is None
    assert tight is not None
    assert tight.problem.startswith(
        "Too little GPU memory: training takes 7.5 GB at its peak, and RTX 3070 has 8.0 GB"
    )
    assert "at least 9 GB" in tight.fix
    assert (
        gpu_memory_problem(stage="rendering", peak_bytes=9 * GIB, total_bytes=10 * GIB, device_name="A")
        is None
    )


@pytest.mark.parametrize("family", ["zimage", "flux2_klein"])
def test_a_transformer_file_loads_with_the_rest_from_a_diffusers_folder_and_alone_is_refused(family, tmp_path):
    """Z-Image and FLUX.2 klein are published as a transformer .safetensors file: it loads with
    from_single_file, the text encoder, VAE and tokenizer from the folder LIKENESS_MODEL_CONFIG
    names; the folder alone loads too; the file alone is refused, naming the supported forms."""
    pipeline = build_tiny_pipeline(seed=0, family=family)
    folder = tmp_path / "diffusers"
    pipeline.save_pretrained(folder)
    transformer_file = tmp_path / "transformer.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in pipeline.transformer.state_dict().items()}, str(transformer_file))

    from_file = get_engine(EngineSpec(base_model=str(transformer_file), model_config=str(folder), device="cpu"))
    from_folder = get_engine(EngineSpec(base_model=str(folder), device="cpu"))
    with pytest.raises(ModelLoadError, match="transformer alone") as refusal:
        get_engine(EngineSpec(base_model=str(transformer_file), device="cpu"))
    with pytest.raises(ModelLoadError, match="LIKENESS_MODEL_FAMILY says sd15"):
        get_engine(EngineSpec(base_model=str(folder), family="sd15", device="cpu"))

    assert from_file.family == from_folder.family == family
    expected = pipeline.transformer.state_dict()
    for engine in (from_file, from_folder):
        loaded = engine.denoiser.state_dict()
        assert loaded.keys() == expected.keys()
        assert all(torch.equal(loaded[name], expected[name]) for name in expected)
    assert "a diffusers folder or a hub id" in str(refusal.value) and "LIKENESS_MODEL_CONFIG" in str(refusal.value)
    result = render(
        from_file, lora_path=None, identity_token="sks", subject_class="man", prompt="photo", steps=2, width=64, height=64
    )
    assert result.image.size == (64, 64)
