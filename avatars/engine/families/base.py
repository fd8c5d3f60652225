"""What a model family is to the engine: everything that differs between SD 1.5, SDXL, Z-Image
and FLUX.2 klein, behind one small class, so that training, validation, rendering, the passes,
loading and the model check ask the family instead of comparing its name.

A family is a `ModelFamily` subclass with one instance (`families.FAMILIES`). Its class
attributes are figures (sizes, steps, limits, LoRA targets); its methods are what runs
differently (building the tiny pipeline, conditioning the denoiser on a caption, the training
objective, redrawing an image). Like diffusers' one-script-per-family training examples, each
family is short because the pipeline classes carry most of what differs.

torch and diffusers are imported inside methods: importing a family costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass(frozen=True)
class NoisedBatch:
    """One optimizer step's training inputs: the noised latents as the denoiser reads them, the
    timesteps it is given, what it should predict, and each sample's loss weight."""

    noisy_input: "torch.Tensor"
    timesteps: "torch.Tensor"
    target: "torch.Tensor"
    weighting: "torch.Tensor"


class TrainingObjective:
    """How a family's denoiser is trained: latents from the VAE's distribution, noise and timesteps
    drawn, the denoiser's prediction. The loss is the same formula for every family (see `loss`)."""

    def model_input(
        self, latent_mean: "torch.Tensor", latent_std: "torch.Tensor", sample: "torch.Tensor"
    ) -> "torch.Tensor":
        raise NotImplementedError

    def noised(self, model_input: "torch.Tensor", generator: "torch.Generator") -> NoisedBatch:
        raise NotImplementedError

    def prediction(self, denoiser, noisy_input, timesteps, conditioning) -> "torch.Tensor":
        raise NotImplementedError

    @staticmethod
    def loss(prediction: "torch.Tensor", target: "torch.Tensor", weighting: "torch.Tensor") -> "torch.Tensor":
        """The weighted mean squared error of diffusers' scripts: per sample, then over the batch
        (with weights of 1, plain MSE)."""
        import torch

        squared = weighting.float() * (prediction.float() - target.float()) ** 2
        return torch.mean(squared.reshape(target.shape[0], -1), 1).mean()


class ModelFamily:
    """One architecture the engine runs. Subclasses set the figures and override the methods."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    licence: ClassVar[str]
    # The diffusers pipeline classes, by name (diffusers imports a class only when it is asked for).
    pipeline_class_name: ClassVar[str]
    # Image-to-image, or inpainting with a mask over the whole image where the family has no
    # image-to-image pipeline: what the face and high-resolution passes and templates redraw with.
    redraw_class_name: ClassVar[str]
    redraw_is_inpainting: ClassVar[bool] = False
    denoiser_name: ClassVar[str]
    denoiser_class_name: ClassVar[str]
    text_encoder_names: ClassVar[tuple[str, ...]] = ("text_encoder",)
    # The LoRA's layers in the denoiser; text-encoder layers where the family trains the encoder.
    lora_target_modules: ClassVar[tuple[str, ...]] = ("to_k", "to_q", "to_v", "to_out.0")
    text_encoder_lora_target_modules: ClassVar[tuple[str, ...]] = ()
    # Whether the LoRA's peft state is converted to diffusers' older layout before saving, as
    # that family's reference script does (SD's do; the transformers' save peft's names).
    converts_lora_state: ClassVar[bool] = False
    # The pipeline call's keyword whose {"scale": s} scales the LoRA at render time.
    lora_scale_keyword: ClassVar[str]
    # Image sides are multiples of this (the VAE's downscale times the transformer's patch).
    size_multiple: ClassVar[int] = 8
    default_resolution: ClassVar[int]
    default_steps: ClassVar[int]
    default_guidance: ClassVar[float]
    default_output_long_side: ClassVar[int]
    prompt_token_limit: ClassVar[int]
    takes_negative_prompt: ClassVar[bool]
    # Whether a style template holds a wording of its own for this family: a language model
    # reads sentences, where CLIP reads tags. A family without one renders the template's
    # default (CLIP) wording.
    has_own_prompt_wording: ClassVar[bool] = False
    # Where the weights come from, for the exported avatar's README and the docs.
    train_checkpoint: ClassVar[str]
    render_checkpoint: ClassVar[str]

    def __repr__(self) -> str:
        return f"<family {self.name}>"

    # --- Pipelines ---------------------------------------------------------------------------

    def pipeline_class(self):
        return getattr(importlib.import_module("diffusers"), self.pipeline_class_name)

    def redraw_pipeline(self, pipeline):
        """The image-to-image (or inpainting) twin of `pipeline`, over the same modules."""
        return getattr(importlib.import_module("diffusers"), self.redraw_class_name).from_pipe(pipeline)

    def ready_for_jobs(self, pipeline) -> None:
        """Whatever the family's pipeline needs before its first job (a faster sampler, say)."""

    def build_tiny_pipeline(self, seed: int):
        """The tiny engine: the family's pipeline from small configs, random weights from `seed`."""
        raise NotImplementedError

    def pipeline_kwargs(self, pipeline) -> dict[str, Any]:
        """Extra keywords every call of this family's pipelines takes."""
        return {}

    def call_arguments(self, pipeline, *, negative_prompt: str, lora_scale: float | None) -> dict[str, Any]:
        """The keywords a render call adds to prompt, steps, guidance and generators: the negative
        prompt where the family takes one, the LoRA's scale under the family's keyword."""
        arguments = dict(self.pipeline_kwargs(pipeline))
        if self.takes_negative_prompt:
            arguments["negative_prompt"] = negative_prompt or None
        if lora_scale is not None:
            arguments[self.lora_scale_keyword] = {"scale": lora_scale}
        return arguments

    def redraw_arguments(self, image: "Image.Image", *, strength: float) -> dict[str, Any]:
        """The keywords that make the redraw pipeline start from `image` at `strength`."""
        arguments: dict[str, Any] = {"image": image, "strength": strength}
        if self.redraw_is_inpainting:
            from PIL import Image

            # A mask over everything: inpainting becomes image-to-image at `strength`.
            arguments.update(
                mask_image=Image.new("L", image.size, 255), width=image.width, height=image.height
            )
        return arguments

    # --- Training ----------------------------------------------------------------------------

    def lora_targets(self, denoiser) -> list[str]:
        return list(self.lora_target_modules)

    def caption_conditioning(self, pipeline, caption: str, *, device, dtype, resolution: int, batch_size: int):
        """What the denoiser is conditioned on for `caption`, `batch_size` times over, from the
        pipeline's own `encode_prompt` as rendering computes it."""
        raise NotImplementedError

    def training_objective(self, pipeline) -> TrainingObjective:
        raise NotImplementedError

    # --- Loading -----------------------------------------------------------------------------

    def recognises_checkpoint(self, shapes: dict[str, tuple[int, ...]]) -> bool:
        """Whether a single-file checkpoint with these weight names and shapes is this family's."""
        return False

    def without_safety_checker(self) -> dict[str, Any]:
        return {}

    # --- Prompts -----------------------------------------------------------------------------

    def prompt_tokenizer(self, base_model: str):
        """The tokenizer a prompt is counted with for `base_model` ("tiny": the real model's own)."""
        raise NotImplementedError

    def prompt_token_count(self, text: str, *, base_model: str = "tiny") -> int:
        """Tokens the text encoder reads for `text`; above `prompt_token_limit` the rest is cut."""
        return len(self.prompt_tokenizer(base_model)(text, truncation=False, verbose=False)["input_ids"])

    def prompt_overflow(self, text: str, *, base_model: str = "tiny") -> str:
        """The words of `text` the model would drop ("" when it fits)."""
        tokenizer = self.prompt_tokenizer(base_model)
        with_specials = len(tokenizer("", truncation=False, verbose=False)["input_ids"])
        token_ids = tokenizer(text, truncation=False, add_special_tokens=False, verbose=False)["input_ids"]
        return tokenizer.decode(token_ids[self.prompt_token_limit - with_specials :]).strip()
