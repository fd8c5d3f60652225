"""The identity network's cost a face: dlib's own (the wheel, no BLAS) against the torch port.

Cuts the chip of one shared test photo's face as dlib does, then times dlib's
`compute_face_descriptor` and `identity_network.embed_chips` on one chip and on the chip with
its mirror image (what the product embeds), and prints the CPU time of the calling thread
and the wall time, a face, with the largest difference between the two embeddings. The
thread's CPU time is the figure to compare on a busy machine; the load average is printed.

    .venv/bin/python bench/identity_network.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PHOTO = ROOT.parent / "shared" / "testdata" / "faces" / "obama" / "obama-1.jpg"


def timed(call, repeats: int) -> tuple[float, float]:
    """Median thread CPU and wall seconds of `call`, after one untimed call."""
    call()
    cpu, wall = [], []
    for _ in range(repeats):
        cpu_started, wall_started = time.thread_time(), time.perf_counter()
        call()
        cpu.append(time.thread_time() - cpu_started)
        wall.append(time.perf_counter() - wall_started)
    return statistics.median(cpu), statistics.median(wall)


def main() -> int:
    import dlib

    from avatars.engine import faces, identity_network
    from avatars.engine.weights import licensed_weights

    faces.load_models()
    recognizer = dlib.face_recognition_model_v1(licensed_weights("face_recognition_models", faces.IDENTITY_MODEL))
    with Image.open(PHOTO) as image:
        pixels = np.asarray(image.convert("RGB"))
    face = faces.detect_faces(Image.fromarray(pixels))[0]
    chip = dlib.get_face_chip(pixels, face.shape, 150, 0.25)
    pair = [chip, np.ascontiguousarray(chip[:, ::-1])]

    difference = np.abs(np.asarray(recognizer.compute_face_descriptor(pair)) - identity_network.embed_chips(pair)).max()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"largest difference between the embeddings: {difference:.2e}")
    for label, call, chips, repeats in (
        ("dlib, one chip", lambda: recognizer.compute_face_descriptor(pair[:1]), 1, 7),
        ("dlib, a face and its mirror image", lambda: recognizer.compute_face_descriptor(pair), 2, 7),
        ("torch, one chip", lambda: identity_network.embed_chips(pair[:1]), 1, 25),
        ("torch, a face and its mirror image", lambda: identity_network.embed_chips(pair), 2, 25),
    ):
        cpu, wall = timed(call, repeats)
        print(f"{label:36s} {cpu / chips * 1000:6.1f} ms CPU a face  {wall / chips * 1000:6.1f} ms wall a face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
