"""What the training tests share: a small train_lora call, the adapter weights a pipeline holds,
a scripted likeness scorer, a fresh tiny engine and a raw render to compare."""

import numpy as np
import torch

from avatars.engine.pipeline import EngineSpec, build_tiny_pipeline, engine_from_pipeline
from avatars.engine.training import train_lora

# Ten times the production rate so a few steps move the weights far enough to see in pixels.
TEST_LEARNING_RATE = 1e-3
# The smallest training that still goes through every part: rank 4 adapters, two one-step
# validation renders.
SMALL = {"rank": 4, "text_encoder_rank": 4, "validation_seeds": (0, 1), "validation_steps": 1}


def train(engine, photos, output_path, **arguments):
    """train_lora as these tests call it: a small training of "sks man" unless told otherwise."""
    return train_lora(
        engine,
        photos,
        **{"identity_token": "sks", "subject_class": "man", "output_path": output_path, **SMALL, **arguments},
    )


def trained_modules(engine) -> dict:
    """The modules a LoRA of `engine`'s family adapts, by component name: the denoiser, and the
    text encoders where the family trains them."""
    model_family = engine.model_family
    names = [model_family.denoiser_name]
    if model_family.text_encoder_lora_target_modules:
        names += list(model_family.text_encoder_names)
    return {name: getattr(engine.pipeline, name) for name in names}


def adapter_weights(pipeline) -> dict:
    """The LoRA weights the pipeline holds now, named as the saved file names them."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    weights = {}
    for name in ("unet", "transformer", "text_encoder", "text_encoder_2"):
        module = getattr(pipeline, name, None)
        if module is None or not any("lora" in module_name for module_name, _ in module.named_modules()):
            continue
        state = get_peft_model_state_dict(module, adapter_name="avatar")
        if name != "transformer":
            state = convert_state_dict_to_diffusers(state)
        weights.update({f"{name}.{key}": tensor.detach().clone() for key, tensor in state.items()})
    return weights


class ScriptedScorer:
    """score(image) from a script: one tuple of likenesses per validation, one per image (None:
    no face). It remembers the adapter weights each validation rendered with."""

    def __init__(self, pipeline, script):
        self.pipeline = pipeline
        self.script = script
        self.calls = 0
        self.weights_seen = []

    def __call__(self, image):
        images_per_validation = len(self.script[0])
        validation, index = divmod(self.calls, images_per_validation)
        if index == 0:
            self.weights_seen.append(adapter_weights(self.pipeline))
        self.calls += 1
        return self.script[validation][index]


def assert_same_weights(saved: dict, expected: dict) -> None:
    assert saved.keys() == expected.keys()
    assert all(np.array_equal(saved[name].numpy(), expected[name].numpy()) for name in saved)


def raw_render(engine, *, seed: int = 3) -> np.ndarray:
    import torch

    return engine.pipeline(
        prompt="a photo of sks man",
        **engine.model_family.pipeline_kwargs(engine.pipeline),
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images[0]


def fresh_engine(family_name: str, seed: int = 0):
    return engine_from_pipeline(
        build_tiny_pipeline(seed=seed, family=family_name),
        spec=EngineSpec(family=family_name, device="cpu"),
        device="cpu",
        dtype=torch.float32,
        label=f"fresh, seed {seed}",
        is_tiny=True,
    )


def same_embeds(first, second) -> bool:
    if isinstance(first, list):
        return all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    return torch.equal(first, second)
