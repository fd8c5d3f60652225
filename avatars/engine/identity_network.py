"""dlib's face identity ResNet run by torch: the same weights, converted once from dlib's file.

dlib's Python wheel is built without BLAS, so its network costs ~76 ms of CPU a chip; torch
runs the same layers in ~10 ms on one thread (~9 ms a chip for a face and its mirror image in
one pass; `bench/identity_network.py`, on the 2-core development machine). The network is
`anet_type` of dlib's `examples/dnn_face_recognition_ex.cpp`; `dlib_resnet_file` reads its
weights from `dlib_face_recognition_resnet_model_v1.dat` (opened through
`weights.licensed_weights`), and each batch-norm-turned-affine layer is folded into the
convolution before it. The result is cached as safetensors (`weights.derived_weights_path`,
listed in models.md under the same licence), keyed by the source file's SHA-256, so the
conversion runs once per machine.

torch is imported when the network first loads (`faces.load_models` or the first embedding),
never at Django start-up (STYLE.md).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from .dlib_resnet_file import RESIDUAL_BLOCKS, read_dlib_resnet
from .weights import derived_weights_path, licensed_weights

SOURCE_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CONVERTED_MODEL = "dlib_face_recognition_resnet_model_v1.safetensors"
CHIP_SIZE = 150
# The network's input layer (`input_rgb_image_sized<150>`, dlib/dnn/input.h): each channel
# less the file's mean (122.782, 117.001, 104.298), divided by 256.
_PIXEL_SCALE = 256.0
# One forward pass at a time, on one thread. The intake runs in web requests, several at once,
# beside the nudity check on a helper thread; a second torch thread waits on the busiest core.
# On the loaded 2-core development machine (load ~3, before channels-last), a mirror pair took
# 21 ms a face on one thread and 228 ms on two; one chip 40 ms against 282 ms. The process's own setting is put
# back after each pass, so other torch work in a worker process keeps its threads.
THREADS = 1

_lock = threading.Lock()
_network = None


def _build_module():
    """The ResNet as plain torch.nn modules (imported here: torch loads on first use)."""
    import torch
    from torch import nn
    from torch.nn import functional

    class Residual(nn.Module):
        """Two 3x3 convolutions (their affine layers folded in) beside the identity, or beside
        a 2x2 average pool when the first convolution strides 2 (dlib's ares / ares_down)."""

        def __init__(self, channels_in: int, channels: int, stride: int):
            super().__init__()
            # dlib pads a convolution only when it does not stride (its default padding).
            self.first = nn.Conv2d(channels_in, channels, 3, stride=stride, padding=0 if stride > 1 else 1)
            self.second = nn.Conv2d(channels, channels, 3, padding=1)
            self.down = stride > 1

        def forward(self, inputs):
            branch = self.second(functional.relu(self.first(inputs)))
            shortcut = functional.avg_pool2d(inputs, 2, 2) if self.down else inputs
            if shortcut.shape != branch.shape:
                # dlib's add_prev adds tensors of different sizes into the larger of each
                # dimension, the missing channels, rows and columns counting as zero.
                channels = max(shortcut.shape[1], branch.shape[1])
                rows, columns = max(shortcut.shape[2], branch.shape[2]), max(shortcut.shape[3], branch.shape[3])
                shortcut, branch = (
                    functional.pad(part, (0, columns - part.shape[3], 0, rows - part.shape[2],
                                          0, channels - part.shape[1]))
                    for part in (shortcut, branch)
                )
            return functional.relu(shortcut + branch)

    class FaceIdentityResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 32, 7, stride=2)
            blocks, channels_in = [], 32
            for channels, kind in RESIDUAL_BLOCKS:
                blocks.append(Residual(channels_in, channels, 2 if kind == "down" else 1))
                channels_in = channels
            self.blocks = nn.Sequential(*blocks)
            self.embedding = nn.Linear(256, 128, bias=False)
            self.register_buffer("pixel_means", torch.zeros(3))

        def forward(self, chips):
            """chips: (n, 150, 150, 3) uint8 RGB -> (n, 128) embeddings."""
            pixels = (chips.permute(0, 3, 1, 2).float() - self.pixel_means.view(1, 3, 1, 1)) / _PIXEL_SCALE
            features = functional.max_pool2d(functional.relu(self.stem(pixels)), 3, 2)
            features = self.blocks(features)
            return self.embedding(features.mean(dim=(2, 3)))

    return FaceIdentityResNet()


def converted_state_dict(source: str | Path) -> dict[str, np.ndarray]:
    """The module's parameters from dlib's .dat file: each affine layer folded into the
    convolution before it (gamma * (w * x + b) + beta)."""
    network = read_dlib_resnet(Path(source).read_bytes())
    layers = [layer for layer in network.layers if layer[0] in ("con", "affine", "fc")]
    convolutions = []
    for layer, following in zip(layers, layers[1:], strict=False):
        if layer[0] == "con":
            if following[0] != "affine":
                raise ValueError("A convolution without its affine layer: not this network.")
            _, weights, bias, _ = layer
            _, gamma, beta = following
            convolutions.append((weights * gamma[:, None, None, None], bias * gamma + beta))
    names = ["stem"] + [f"blocks.{index}.{part}" for index in range(len(RESIDUAL_BLOCKS)) for part in ("first", "second")]
    if len(convolutions) != len(names) or layers[-1][0] != "fc":
        raise ValueError("Unexpected layer count: not this network.")
    state = {"pixel_means": np.asarray(network.pixel_means, dtype=np.float32), "embedding.weight": layers[-1][1]}
    for name, (weights, bias) in zip(names, convolutions, strict=True):
        state[f"{name}.weight"] = np.ascontiguousarray(weights, dtype=np.float32)
        state[f"{name}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
    return state


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _converted_weights() -> dict:
    """The converted tensors: from the cache when it was made from this very .dat file,
    else converted now and cached (written aside, then renamed: processes may race)."""
    import safetensors.torch
    import torch

    source = licensed_weights("face_recognition_models", SOURCE_MODEL)
    digest = _file_digest(source)
    cached = derived_weights_path(CONVERTED_MODEL)
    if cached.is_file():
        try:
            with safetensors.safe_open(str(cached), framework="pt") as handle:
                made_from = (handle.metadata() or {}).get("source_sha256")
            if made_from == digest:
                return safetensors.torch.load_file(str(cached))
        except Exception:  # noqa: BLE001 - a damaged cache file is made again, like a missing one
            pass
    state = {name: torch.from_numpy(array) for name, array in converted_state_dict(source).items()}
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        safetensors.torch.save_file(state, str(partial), metadata={"source": SOURCE_MODEL, "source_sha256": digest})
        os.replace(partial, cached)
    except OSError:
        partial.unlink(missing_ok=True)  # an unwritable cache costs a conversion per process, nothing more
    return state


def load_network():
    """The network, loaded once per process (torch is imported here)."""
    global _network
    if _network is None:
        with _lock:
            if _network is None:
                import torch

                module = _build_module()
                module.load_state_dict(_converted_weights())
                # The chips arrive as (n, rows, columns, channels): kept in that order, the
                # convolutions take oneDNN's channels-last path, ~40% faster on one thread.
                _network = module.eval().to(memory_format=torch.channels_last)
    return _network


def embed_chips(chips) -> np.ndarray:
    """(n, 128) float64 embeddings of n aligned 150 x 150 RGB uint8 chips, in one forward pass."""
    import torch

    batch = np.ascontiguousarray(np.stack([np.asarray(chip, dtype=np.uint8) for chip in chips]))
    if batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"Chips must be {CHIP_SIZE} x {CHIP_SIZE} RGB, not {batch.shape[1:]}.")
    network = load_network()
    with _lock, torch.inference_mode():
        threads = torch.get_num_threads()
        torch.set_num_threads(THREADS)
        try:
            embeddings = network(torch.from_numpy(batch))
        finally:
            torch.set_num_threads(threads)
    return embeddings.numpy().astype(np.float64)
