"""The model families the engine runs, by name: `family("zimage")`. See base.py for what a
family holds; a new family is a new module here and a line in FAMILIES."""

from __future__ import annotations

from .base import ModelFamily, NoisedBatch, TrainingObjective
from .flux2_klein import FLUX2_KLEIN
from .sd15 import SD15
from .sdxl import SDXL
from .zimage import ZIMAGE

FAMILIES: dict[str, ModelFamily] = {member.name: member for member in (SD15, SDXL, ZIMAGE, FLUX2_KLEIN)}
# The families a style template words its prompt for separately (the rest read its default).
PROMPT_WORDING_FAMILIES: tuple[ModelFamily, ...] = tuple(
    member for member in FAMILIES.values() if member.has_own_prompt_wording
)
# The family a tiny engine is shaped like when none is named.
DEFAULT_FAMILY = SD15


def family(name: str) -> ModelFamily:
    """The family called `name`; ValueError naming the choices for any other."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"Unknown model family {name!r}; expected one of {', '.join(FAMILIES)}") from None


def family_of_pipeline(class_name: str) -> ModelFamily | None:
    """The family whose text-to-image pipeline class is `class_name` (a model_index.json's)."""
    return next((member for member in FAMILIES.values() if member.pipeline_class_name == class_name), None)


__all__ = ["FAMILIES", "DEFAULT_FAMILY", "PROMPT_WORDING_FAMILIES", "ModelFamily", "NoisedBatch", "TrainingObjective", "family", "family_of_pipeline"]
