"""Reading dlib's serialized face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`)
into plain arrays, layer by layer, from the input up.

The file is dlib's own binary serialization of the network `anet_type` that
`examples/dnn_face_recognition_ex.cpp` (and dlib's Python `face_recognition_model_v1`)
declares. Its layout, read from dlib's source:

- an integer is a control byte (its low 4 bits the byte count, bit 0x80 the sign), then that
  many little-endian bytes (`serialize.h`, `pack_int`); a float is a mantissa (int64) and an
  exponent (int16), both as integers (`float_details.h`); a bool is the character '0' or '1';
  a string its length, then its bytes;
- a tensor (`cuda/tensor.h`) is version 2, its 4 dimensions, then raw little-endian float32s;
- `add_loss_layer` writes its version, the loss, then the network below it; `add_layer`
  writes its version, the *network below it first*, then its own layer, then bookkeeping
  (flags and tensors that are empty in a saved net); `add_tag_layer` and `add_skip_layer`
  only a version before the network below them (`dnn/core.h`). So the file holds every
  layer's version from the top down, then the input layer, then the layers' contents from
  the bottom up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The residual blocks from the input up, (filters, kind): alevel4 to alevel0 of the example.
# "down" is ares_down (the first convolution strides 2, beside a 2x2 average pool), "same" ares.
RESIDUAL_BLOCKS = (
    [(32, "same")] * 3 + [(64, "down")] + [(64, "same")] * 3 + [(128, "down")] + [(128, "same")] * 2
    + [(256, "down")] + [(256, "same")] * 2 + [(256, "down")]
)


def _layers_top_down() -> list[str]:
    """Each of the network's layers from the top (the loss's subnetwork) down to the layer on
    the input, as dlib's templates expand: "tag"/"skip" carry no parameters and only mark
    where add_prev_ reads from; every other entry is an add_layer holding that layer."""
    layers = ["fc", "avg_pool"]
    for _, kind in reversed(RESIDUAL_BLOCKS):
        if kind == "same":  # relu<add_prev1<affine<con<relu<affine<con<tag1<...>>>>>>>>
            layers += ["relu", "add_prev", "affine", "con", "relu", "affine", "con", "tag"]
        else:  # relu<add_prev2<avg_pool<skip1<tag2<affine<con<relu<affine<con<tag1<...>>>>>>>>>>
            layers += ["relu", "add_prev", "avg_pool", "skip", "tag", "affine", "con", "relu", "affine", "con", "tag"]
    return layers + ["max_pool", "relu", "affine", "con"]


class DlibFileError(ValueError):
    """The file is not the network this reader knows."""


@dataclass
class DlibResNet:
    """The network's parameters, in the order its layers run from the input."""

    pixel_means: tuple[float, float, float]  # red, green, blue, subtracted before dividing by 256
    # ("con", weights (out, in, h, w), bias (out,), stride) | ("affine", gamma (c,), beta (c,))
    # | ("fc", weights (outputs, inputs)); pooling, relu and add_prev carry no parameters.
    layers: list[tuple] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.at = 0

    def _byte(self) -> int:
        if self.at >= len(self.data):
            raise DlibFileError("The file ends early.")
        value = self.data[self.at]
        self.at += 1
        return value

    def integer(self) -> int:
        control = self._byte()
        size = control & 0x0F
        if size == 0 or size > 8:
            raise DlibFileError(f"Bad integer control byte {control:#x} at {self.at - 1}.")
        value = int.from_bytes(self.data[self.at:self.at + size], "little")
        self.at += size
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf, -inf and NaN
            raise DlibFileError("A non-finite number in the file.")
        return float(np.ldexp(float(mantissa), exponent))

    def flag(self) -> bool:
        value = self._byte()
        if value not in (ord("0"), ord("1")):
            raise DlibFileError(f"Bad bool at {self.at - 1}.")
        return value == ord("1")

    def text(self) -> str:
        length = self.integer()
        if self.at + length > len(self.data):
            raise DlibFileError("The file ends early.")
        value = bytes(self.data[self.at:self.at + length])
        self.at += length
        return value.decode("ascii", errors="replace")

    def expect(self, *versions: str) -> str:
        version = self.text()
        if version not in versions:
            raise DlibFileError(f"Expected {' or '.join(versions)}, found {version!r}.")
        return version

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise DlibFileError("Unknown tensor version.")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        if self.at + 4 * count > len(self.data):
            raise DlibFileError("The file ends early.")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at)
        self.at += 4 * count
        return values.reshape(shape).astype(np.float32)

    def alias_shape(self) -> tuple[int, ...]:
        if self.integer() != 1:
            raise DlibFileError("Unknown alias_tensor version.")
        return tuple(self.integer() for _ in range(4))


def _con(reader: _Reader) -> tuple:
    version = reader.expect("con_4", "con_5", "con_6")
    params = reader.tensor().reshape(-1)
    filters, (rows, columns) = reader.integer(), (reader.integer(), reader.integer())
    stride = (reader.integer(), reader.integer())
    padding = (reader.integer(), reader.integer())
    weight_shape, bias_shape = reader.alias_shape(), reader.alias_shape()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.real()
    use_bias = reader.flag() if version in ("con_5", "con_6") else True
    if version == "con_6" and reader.flag():
        raise DlibFileError("A convolution with a fused relu: not this network.")
    if stride[0] != stride[1] or padding != ((0, 0) if stride[0] != 1 else (rows // 2, columns // 2)):
        raise DlibFileError(f"Unexpected stride {stride} / padding {padding}.")
    size = int(np.prod(weight_shape))
    weights = params[:size].reshape(weight_shape)
    if weights.shape[0] != filters or weights.shape[2:] != (rows, columns):
        raise DlibFileError("Convolution shapes disagree.")
    bias = params[size:size + filters] if use_bias else np.zeros(filters, np.float32)
    if use_bias and int(np.prod(bias_shape)) != filters:
        raise DlibFileError("Convolution bias shape disagrees.")
    return ("con", weights, bias.copy(), stride[0])


def _affine(reader: _Reader) -> tuple:
    version = reader.expect("affine_", "affine_2")
    params = reader.tensor().reshape(-1)
    gamma_shape, beta_shape = reader.alias_shape(), reader.alias_shape()
    if reader.integer() != 0:  # layer_mode: CONV_MODE (one gamma and beta per channel)
        raise DlibFileError("An affine layer not in convolution mode.")
    if version == "affine_2" and reader.flag():
        raise DlibFileError("A disabled affine layer: not this network.")
    channels = int(np.prod(gamma_shape))
    if int(np.prod(beta_shape)) != channels or params.size != 2 * channels:
        raise DlibFileError("Affine shapes disagree.")
    return ("affine", params[:channels].copy(), params[channels:].copy())


def _pool(reader: _Reader, kind: str) -> tuple:
    reader.expect(f"{kind}_2")
    window = (reader.integer(), reader.integer())
    stride = (reader.integer(), reader.integer())
    padding = (reader.integer(), reader.integer())
    if padding != (0, 0) or window[0] != window[1] or stride[0] != stride[1]:
        raise DlibFileError(f"Unexpected pooling {window} {stride} {padding}.")
    return (kind, window[0], stride[0])


def _fc(reader: _Reader) -> tuple:
    version = reader.expect("fc_2", "fc_3")
    outputs, inputs = reader.integer(), reader.integer()
    params = reader.tensor().reshape(-1)
    weight_shape, _ = reader.alias_shape(), reader.alias_shape()
    if reader.integer() != 1:  # fc_bias_mode FC_NO_BIAS
        raise DlibFileError("An fc layer with a bias: not this network.")
    for _ in range(4):
        reader.real()
    if version == "fc_3":
        reader.flag()
    if weight_shape[:2] != (inputs, outputs) or params.size != inputs * outputs:
        raise DlibFileError("fc shapes disagree.")
    # dlib multiplies the (samples, inputs) input by this (inputs, outputs) matrix.
    return ("fc", params.reshape(inputs, outputs).T.copy())


def _contents(reader: _Reader, kind: str) -> tuple:
    if kind == "con":
        return _con(reader)
    if kind == "affine":
        return _affine(reader)
    if kind == "relu":
        if reader.expect("relu_", "relu_2") == "relu_2" and reader.flag():
            raise DlibFileError("A disabled relu: not this network.")
        return ("relu",)
    if kind == "add_prev":
        reader.expect("add_prev_")
        return ("add_prev",)
    if kind == "max_pool":
        return _pool(reader, "max_pool")
    if kind == "avg_pool":
        return _pool(reader, "avg_pool")
    return _fc(reader)


def read_dlib_resnet(data: bytes) -> DlibResNet:
    """The parameters of dlib's face recognition ResNet from the bytes of its .dat file."""
    reader = _Reader(data)
    if reader.integer() != 1:
        raise DlibFileError("Unknown add_loss_layer version.")
    if reader.expect("loss_metric_", "loss_metric_2") == "loss_metric_2":
        reader.real(), reader.real()  # margin and distance threshold: training only
    layers = _layers_top_down()
    versions = [reader.integer() for _ in layers]
    for position, (kind, version) in enumerate(zip(layers, versions, strict=True)):
        allowed = (1,) if kind in ("tag", "skip") else (2, 3) if position == len(layers) - 1 else (1, 2)
        if version not in allowed:
            raise DlibFileError(f"Unexpected {kind} layer version {version}: not this network.")
    reader.expect("input_rgb_image_sized")
    means = (reader.real(), reader.real(), reader.real())
    if (reader.integer(), reader.integer()) != (150, 150):
        raise DlibFileError("The network's input is not 150 x 150.")
    network = DlibResNet(pixel_means=means)
    first = True
    for kind, version in zip(reversed(layers), reversed(versions), strict=True):
        if kind in ("tag", "skip"):
            continue
        network.layers.append(_contents(reader, kind))
        for _ in range(3):  # setup called, gradient stale, output and gradient disabled
            reader.flag()
        reader.tensor(), reader.tensor()  # x_grad and the cached output: empty once saved
        if first:  # the layer on the input keeps grad_final (and, from version 3, a factor)
            reader.tensor()
            if version >= 3:
                reader.integer()
            first = False
        elif version == 2:
            reader.tensor()  # params_grad
    if reader.at != len(reader.data):
        raise DlibFileError(f"{len(reader.data) - reader.at} bytes left over: not this network.")
    return network
