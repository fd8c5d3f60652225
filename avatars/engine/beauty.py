"""The beauty pass: a light touch on skin, light and colour, never on shape.

Principle: real first (no plastic look), beautiful second. So the pass only smooths skin
with an edge-preserving filter (pores soften, eyes, lips, hair and jaw lines keep their
edges) and lifts mid-tones and colour a little. It never moves a pixel: no warping, no
slimming, no enlarging; the output has the input's size and geometry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# At amount 1.0: mid-grey rises by MIDTONE_LIFT / 4 of full scale, saturation by SATURATION_LIFT.
MIDTONE_LIFT = 0.12
SATURATION_LIFT = 0.08
# The skin range in YCrCb of Chai & Ngan (1999), widened a little for warm studio light.
SKIN_CR = (133, 180)
SKIN_CB = (77, 135)


def beautify(image: "Image.Image", *, amount: float) -> "Image.Image":
    """`image` with skin smoothed and light lifted by `amount` (0: unchanged, 1: the most
    this pass ever does, still a retouch rather than a filter). Same size and mode."""
    import numpy as np
    from PIL import Image

    amount = min(max(float(amount), 0.0), 1.0)
    if amount == 0.0:
        return image.copy()
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)

    smoothed = _edge_preserving_smooth(rgb.astype(np.uint8)).astype(np.float32)
    weight = amount * skin_mask(rgb.astype(np.uint8))[..., None]
    retouched = rgb + weight * (smoothed - rgb)

    unit = retouched / 255.0
    unit = unit + MIDTONE_LIFT * amount * unit * (1.0 - unit)
    grey = unit.mean(axis=2, keepdims=True)
    unit = grey + (1.0 + SATURATION_LIFT * amount) * (unit - grey)

    result = Image.fromarray(np.clip(unit * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    if alpha is not None:
        result.putalpha(alpha)
    elif image.mode != "RGB":
        result = result.convert(image.mode)
    return result


def skin_mask(rgb: "np.ndarray") -> "np.ndarray":
    """Soft 0-1 mask of skin-coloured pixels, feathered so smoothing fades out at its edge."""
    import cv2
    import numpy as np

    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    mask = ((cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1])).astype(np.float32)
    feather = _odd(max(3, min(rgb.shape[:2]) // 40))
    return cv2.GaussianBlur(mask, (feather, feather), 0)


def _edge_preserving_smooth(rgb: "np.ndarray") -> "np.ndarray":
    import cv2

    # Scaled to the picture so a 64 px test image and a 1024 px portrait get the same look.
    sigma_space = max(1.5, min(rgb.shape[:2]) / 150)
    return cv2.bilateralFilter(rgb, d=_odd(int(sigma_space * 3)), sigmaColor=30, sigmaSpace=sigma_space)


def _odd(value: int) -> int:
    return value if value % 2 else value + 1
