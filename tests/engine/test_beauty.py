"""The beauty pass retouches skin and light but never moves anything."""

import numpy as np
import pytest
from PIL import Image

from avatars.engine.beauty import beautify

TEMPLATE_BEAUTY = 0.25  # the order of a template's beauty weight (beautiful ~2.5/10)


@pytest.fixture(scope="module")
def portrait(photos_of):
    return photos_of("obama")[0]


def _edges(image: Image.Image) -> np.ndarray:
    import cv2

    grey = np.asarray(image.convert("L"), dtype=np.float32)
    magnitude = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    return magnitude.ravel()


def _edge_similarity(a: Image.Image, b: Image.Image) -> float:
    return float(np.corrcoef(_edges(a), _edges(b))[0, 1])


def _mean_change(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


def test_beauty_changes_pixels_mildly(portrait):
    retouched = beautify(portrait, amount=TEMPLATE_BEAUTY)
    assert retouched.size == portrait.size
    assert retouched.mode == portrait.mode
    assert 0.3 < _mean_change(portrait, retouched) < 6.0


def test_beauty_keeps_the_geometry(portrait):
    retouched = beautify(portrait, amount=1.0)
    # A two-pixel move, far subtler than any reshaping, scores well below the retouch.
    moved = portrait.transform(portrait.size, Image.Transform.AFFINE, (1, 0, 2, 0, 1, 0))

    assert _edge_similarity(portrait, retouched) > 0.9
    assert _edge_similarity(portrait, moved) < _edge_similarity(portrait, retouched) - 0.1


def test_more_beauty_changes_more_and_none_changes_nothing(portrait):
    untouched = beautify(portrait, amount=0.0)
    assert untouched.tobytes() == portrait.tobytes()
    changes = [_mean_change(portrait, beautify(portrait, amount=amount)) for amount in (0.1, 0.3, 0.6, 1.0)]
    assert changes == sorted(changes)
    assert changes[0] > 0


def test_beauty_keeps_transparency():
    image = Image.new("RGBA", (40, 30), (210, 160, 130, 255))
    image.putpixel((0, 0), (210, 160, 130, 0))
    retouched = beautify(image, amount=0.5)
    assert retouched.mode == "RGBA"
    assert retouched.getchannel("A").tobytes() == image.getchannel("A").tobytes()
