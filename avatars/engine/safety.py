"""Nudity check for uploads and rendered portraits, with NudeNet's bundled ONNX detector."""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
from PIL import Image

from .weights import licensed_weights

# Exposed intimate parts. Covered parts, faces, feet, armpits, bellies and a bare male
# chest are ordinary in a portrait and stay allowed.
UNSAFE_CLASSES = frozenset({
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
})
# NudeNet reports detections from 0.2; at 0.5 its exposed-part classes are rarely wrong
# on clothed portraits, and an explicit picture scores well above it.
DEFAULT_THRESHOLD = 0.5
# The detector looks at a 320 px square; a 640 px copy keeps its resize cheap.
_DETECTOR_INPUT_SIDE = 640


class NudityVerdict(NamedTuple):
    is_safe: bool
    score: float  # the highest exposed-part score, 0 when none was seen
    labels: list[str]  # the exposed-part classes at or above the threshold


class _Detector:
    _lock = threading.Lock()
    _detector = None

    @classmethod
    def get(cls):
        if cls._detector is None:
            with cls._lock:
                if cls._detector is None:
                    import nudenet
                    import onnxruntime

                    weights = licensed_weights("nudenet", "320n.onnx")
                    detector = nudenet.NudeDetector(model_path=weights)
                    # NudeNet's own session keeps its threads spinning after each image,
                    # taking the CPU from the face models that run next to it: replace it
                    # with one on a single thread that sleeps when idle.
                    options = onnxruntime.SessionOptions()
                    options.intra_op_num_threads = 1
                    options.inter_op_num_threads = 1
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    detector.onnx_session = onnxruntime.InferenceSession(
                        weights, options,
                        providers=["CPUExecutionProvider"],
                    )
                    cls._detector = detector
        return cls._detector


def load_models() -> None:
    """Load the detector now rather than on the first image."""
    _Detector.get()


def nudity_verdict(image: Image.Image, *, threshold: float = DEFAULT_THRESHOLD) -> NudityVerdict:
    """Whether the image is safe to keep: no exposed intimate part detected at `threshold` or above."""
    scale = min(1.0, _DETECTOR_INPUT_SIDE / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    small = image.convert("RGBA")
    # NudeNet converts its input with RGBA2BGR, then swaps to RGB for the network.
    detections = _Detector.get().detect(np.asarray(small))
    exposed = [detection for detection in detections if detection["class"] in UNSAFE_CLASSES]
    score = max((float(detection["score"]) for detection in exposed), default=0.0)
    labels = sorted({detection["class"] for detection in exposed if detection["score"] >= threshold})
    return NudityVerdict(is_safe=not labels, score=round(score, 4), labels=labels)
