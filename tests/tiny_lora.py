"""A real avatar LoRA in seconds: a few DreamBooth steps on the tiny engine, and the check that a
file loads with diffusers' load_lora_weights into a fresh tiny pipeline and changes its output."""

import functools
import tempfile
from pathlib import Path

import numpy as np

TRIGGER = "lkstest man"


@functools.cache
def tiny_avatar_lora() -> bytes:
    """The bytes of a LoRA trained for four steps on noise photos (the tiny engine has no faces to learn)."""
    from PIL import Image

    from avatars.engine.pipeline import EngineSpec, get_engine
    from avatars.engine.training import train_lora

    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    output = Path(tempfile.mkdtemp(prefix="tiny-lora-")) / "avatar.safetensors"
    train_lora(
        get_engine(EngineSpec(base_model="tiny", device="cpu")), photos,
        identity_token="lkstest", subject_class="man", output_path=output,
        # Ten times the production rate, so four steps move the weights far enough to see in pixels.
        rank=4, samples=4, batch_size=1, text_encoder_rank=0, learning_rate=1e-3, seed=1,
    )
    return output.read_bytes()


def _render(pipeline) -> np.ndarray:
    import torch

    return pipeline(
        f"a photo of {TRIGGER}", num_inference_steps=2, height=64, width=64,
        generator=torch.Generator().manual_seed(3), output_type="np",
    ).images[0]


def lora_output_change(lora_path: Path) -> float:
    """How far the file moves a fresh tiny pipeline's render (largest pixel difference, 0-1),
    loaded with diffusers' own load_lora_weights as the README in the zip says."""
    from avatars.engine.pipeline import build_tiny_pipeline

    pipeline = build_tiny_pipeline(seed=0)
    pipeline.set_progress_bar_config(disable=True)
    without = _render(pipeline)
    pipeline.load_lora_weights(str(lora_path.parent), weight_name=lora_path.name, adapter_name="avatar")
    pipeline.set_adapters("avatar", adapter_weights=0.9)
    with_lora = _render(pipeline)
    return float(np.abs(with_lora - without).max())
