""""More like me": the render parameters one click moves toward the avatar, and whether its result is kept."""

from __future__ import annotations

from typing import Any

from .passes import DEFAULT_FACE_STRENGTH, LikenessVerdict, likeness_verdict

# "More like me": each click moves these by a step toward the avatar, never past a bound.
MORE_LIKE_ME_LORA_SCALE_STEP = 0.15
MORE_LIKE_ME_LORA_SCALE_MAX = 1.4
MORE_LIKE_ME_STRENGTH_STEP = 0.05
MORE_LIKE_ME_STRENGTH_MAX = 0.9
MORE_LIKE_ME_GUIDANCE_STEP = 0.5
MORE_LIKE_ME_GUIDANCE_MIN = 4.0
MORE_LIKE_ME_FACE_STRENGTH_STEP = 0.05
MORE_LIKE_ME_FACE_STRENGTH_MAX = 0.6

def more_like_me_parameters(previous: dict[str, Any]) -> dict[str, Any]:
    """The parameters for one "more like me" click on a portrait rendered with `previous`.

    Each click, from the portrait's own seed (so the picture stays recognisably the same):
    - lora_scale +0.15, up to 1.4: the avatar's weights count more;
    - strength +0.05, up to 0.9: the template's reference image pulls less (strength is how
      far image-to-image may move from the reference; 1.0 would drop the template's pose);
    - guidance_scale -0.5, down to 4.0: a strong prompt pull over-cooks a face that the
      stronger LoRA already pushes, which reads as plastic;
    - face_strength +0.05, up to 0.6: the face pass redraws more of the face with the
      avatar; past 0.6 it stops matching the picture's light and angle.
    Every value moves only toward the avatar and stays within its bound; a value already past
    its bound is left as it is. Pure: `previous` is not changed.
    """
    lora_scale = float(previous.get("lora_scale", 1.0))
    strength = float(previous.get("strength", 0.75))
    guidance_scale = float(previous.get("guidance_scale", 7.0))
    face_strength = float(previous.get("face_strength", DEFAULT_FACE_STRENGTH))
    return {
        **previous,
        "lora_scale": _step_up(lora_scale, MORE_LIKE_ME_LORA_SCALE_STEP, MORE_LIKE_ME_LORA_SCALE_MAX),
        "strength": _step_up(strength, MORE_LIKE_ME_STRENGTH_STEP, MORE_LIKE_ME_STRENGTH_MAX),
        "guidance_scale": round(
            min(guidance_scale, max(guidance_scale - MORE_LIKE_ME_GUIDANCE_STEP, MORE_LIKE_ME_GUIDANCE_MIN)), 4
        ),
        "face_strength": _step_up(face_strength, MORE_LIKE_ME_FACE_STRENGTH_STEP, MORE_LIKE_ME_FACE_STRENGTH_MAX),
        "seed": previous.get("seed", 0),
        "more_like_me_clicks": int(previous.get("more_like_me_clicks", 0)) + 1,
    }

def is_more_like(new_likeness: float | None, source_likeness: float | None) -> LikenessVerdict:
    """Whether a "more like me" version is kept over the portrait it came from: only when its
    measured likeness beats the source's (a tie is not better). Neither measured (the tiny
    engine, no centroid): kept, with `measured` False so the page can say "not measured"."""
    return likeness_verdict(new_likeness, source_likeness, keep_ties=False)

def _step_up(value: float, step: float, bound: float) -> float:
    return round(max(value, min(value + step, bound)), 4)

