"""The engine's settings, read from Django's: what a GPU worker loads and trains with.

A leaf module (it imports only settings and the plain-Python engine's spec), so the worker
code, the management commands and the benchmarks build the engine exactly alike.
"""

from __future__ import annotations

from django.conf import settings


def engine_spec():
    from avatars.engine.pipeline import EngineSpec

    return EngineSpec(
        base_model=settings.LIKENESS_BASE_MODEL,
        family=settings.LIKENESS_MODEL_FAMILY,
        device=settings.LIKENESS_DEVICE,
        resolution=settings.LIKENESS_RESOLUTION,
        model_config=settings.LIKENESS_MODEL_CONFIG,
        allow_pickle=settings.LIKENESS_ALLOW_PICKLE_CHECKPOINTS,
    )


def render_engine_spec():
    """What portraits are rendered with: LIKENESS_RENDER_MODEL in the training model's family
    and settings, or the training model itself when it is unset."""
    import dataclasses

    spec = engine_spec()
    if not settings.LIKENESS_RENDER_MODEL:
        return spec
    return dataclasses.replace(spec, base_model=settings.LIKENESS_RENDER_MODEL)
