"""Dataset loaders that return numpy arrays ready for Keras.

``load(name)`` returns ``(x_train, y_train), (x_test, y_test)``: ``x`` float32 in [0, 1],
channels-last images ``(n, h, w, c)`` (or flat vectors with ``flatten=True``), ``y`` int32 class
indices. With ``validation_split`` it returns three pairs: train, validation, test.

Sources:

- ``digits`` (the embedded default): scikit-learn's 8×8 handwritten digits, 1,797 images that
  ship inside the scikit-learn wheel, so nothing is downloaded. Split 80/20, stratified, seeded.
- ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``: through ``keras.datasets`` and its cache
  (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``). Without network access, a missing
  file raises :class:`DatasetUnavailableError` saying which file to place where.
- ``shapes``: a seeded synthetic set of filled squares, circles and triangles in random colours,
  positions and sizes on a noisy background, at any image size; for fast tests and CNN demos.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load("digits", flatten=True)
    >>> x_train.shape, x_train.dtype.name, y_train.dtype.name
    ((1437, 64), 'float32', 'int32')
    >>> (xt, yt), (xv, yv), _ = load("shapes", size=16, subset=60, validation_split=0.25)
    >>> xt.shape, xv.shape
    ((45, 16, 16, 3), (15, 16, 16, 3))
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "shapes")

NUM_CLASSES = {
    "digits": 10,
    "mnist": 10,
    "fashion_mnist": 10,
    "cifar10": 10,
    "cifar100": 100,
    "shapes": 3,
}

CLASS_NAMES = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
    "cifar100": [f"class_{i}" for i in range(100)],
    "shapes": ["square", "circle", "triangle"],
}

# What keras.datasets downloads, relative to $KERAS_HOME/datasets, and from where.
_KERAS_FILES = {
    "mnist": (
        ["mnist.npz"],
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    ),
    "fashion_mnist": (
        [
            "fashion-mnist/train-labels-idx1-ubyte.gz",
            "fashion-mnist/train-images-idx3-ubyte.gz",
            "fashion-mnist/t10k-labels-idx1-ubyte.gz",
            "fashion-mnist/t10k-images-idx3-ubyte.gz",
        ],
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    "cifar10": (
        ["cifar-10-batches-py-target_archive"],
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": (
        ["cifar-100-python-target_archive"],
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}

# The raw values each loader reads, and the scale that maps them into [0, 1]. The loaders below
# use these constants, and NORMALIZATION (what a deployed model must be fed) is built from them.
_DIGITS_MAX = 16.0  # scikit-learn's digits: pixel counts 0..16 (4×4 blocks of a 32×32 bitmap)
_UINT8_MAX = 255.0  # MNIST, Fashion-MNIST, CIFAR: uint8 pixels 0..255

#: How :func:`load` turns each dataset's raw values into its float32 samples:
#: ``x = raw * scale + offset`` (before any ``size``/``channels`` resampling).
NORMALIZATION = {
    "digits": {
        "scale": 1 / _DIGITS_MAX,
        "offset": 0.0,
        "description": "x = raw / 16, raw = pixel value 0..16 of scikit-learn's 8x8 digits",
    },
    **{
        name: {
            "scale": 1 / _UINT8_MAX,
            "offset": 0.0,
            "description": "x = raw / 255, raw = uint8 pixel value 0..255",
        }
        for name in ("mnist", "fashion_mnist", "cifar10", "cifar100")
    },
    "shapes": {
        "scale": 1.0,
        "offset": 0.0,
        "description": "x = raw: synthetic images drawn as float32 in [0, 1] already",
    },
}

_SHAPES_DEFAULT_TRAIN = 600
_SHAPES_DEFAULT_TEST = 200


class DatasetUnavailableError(RuntimeError):
    """A dataset is neither in the Keras cache nor downloadable from here."""


def num_classes(name: str) -> int:
    """Number of classes of dataset ``name``."""
    _check_name(name)
    return NUM_CLASSES[name]


def normalization(name: str) -> dict:
    """How raw inputs become the samples of dataset ``name``: ``{"scale", "offset", ...}``.

    ``x = raw * scale + offset``; a model trained on :func:`load`'s samples must be fed raw
    inputs transformed this way (e.g. in an app).

    Example:
        >>> normalization("digits")["scale"]
        0.0625
    """
    _check_name(name)
    return dict(NORMALIZATION[name])


def _check_name(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")


def _check_positive_int(value, what, allow_none=True):
    from kerasnets._checks import positive_int

    return positive_int(value, what, allow_none=allow_none)


def load(
    name: str = "digits",
    *,
    flatten: bool = False,
    size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    validation_split: float | None = None,
    seed: int = 0,
):
    """Load dataset ``name`` as numpy arrays.

    Args:
        name: one of ``DATASETS``.
        flatten: return ``(n, h*w*c)`` vectors instead of ``(n, h, w, c)`` images (for MLPs).
        size: resize images to ``size`` × ``size`` (or ``(height, width)``), bilinear. For
            ``shapes`` this is the size the images are drawn at (default 32).
        channels: 1 or 3; grey images are repeated to 3 channels, colour images are averaged to
            1. Default: the dataset's own.
        subset: keep this many training samples (seeded random choice, stratified for digits).
            For ``shapes``, the number of training samples to draw (default 600).
        test_subset: likewise for the test set (``shapes`` default 200).
        validation_split: if given (0 < v < 1), hold out this fraction of the training samples
            and return ``(train, validation, test)`` pairs.
        seed: seed of every random choice (split, subset, synthetic data).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, or with ``validation_split``
        ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``. ``x`` is float32 in [0, 1];
        ``y`` is int32.

    Raises:
        ValueError: unknown name, bad size/channels/subset/split, or an empty result.
        DatasetUnavailableError: a ``keras.datasets`` file is missing and cannot be downloaded.
    """
    _check_name(name)
    if size is not None:
        pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(pair) != 2:
            raise ValueError(f"size must be an int or (height, width), got {size!r}")
        for s in pair:
            _check_positive_int(s, "size", allow_none=False)
        size = (int(pair[0]), int(pair[1]))
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    _check_positive_int(subset, "subset")
    _check_positive_int(test_subset, "test_subset")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")

    if name == "digits":
        (x_train, y_train), (x_test, y_test) = _digits(seed)
    elif name == "shapes":
        hw = size or (32, 32)
        n_train = subset or _SHAPES_DEFAULT_TRAIN
        n_test = test_subset or _SHAPES_DEFAULT_TEST
        x_train, y_train = make_shapes(n_train, hw, seed=seed)
        x_test, y_test = make_shapes(n_test, hw, seed=seed + 1_000_003)
    else:
        (x_train, y_train), (x_test, y_test) = _keras_dataset(name)

    rng = np.random.default_rng(seed)
    if name != "shapes":
        x_train, y_train = _take(x_train, y_train, subset, rng, "subset")
        x_test, y_test = _take(x_test, y_test, test_subset, rng, "test_subset")

    def finish(x):
        x = _to_float_images(x)
        if size is not None and x.shape[1:3] != size:
            x = _resize(x, size)
        if channels is not None and x.shape[-1] != channels:
            x = np.repeat(x, 3, axis=-1) if channels == 3 else x.mean(-1, keepdims=True)
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x.reshape(len(x), -1) if flatten else x

    x_train, x_test = finish(x_train), finish(x_test)
    y_train = np.asarray(y_train).reshape(-1).astype(np.int32)
    y_test = np.asarray(y_test).reshape(-1).astype(np.int32)

    if validation_split is None:
        return (x_train, y_train), (x_test, y_test)
    n_val = int(round(len(x_train) * validation_split))
    if n_val < 1 or n_val >= len(x_train):
        raise ValueError(
            f"validation_split={validation_split} of {len(x_train)} training samples leaves an "
            "empty training or validation set"
        )
    order = np.random.default_rng(seed + 7).permutation(len(x_train))
    val, train = order[:n_val], order[n_val:]
    return (x_train[train], y_train[train]), (x_train[val], y_train[val]), (x_test, y_test)


def _take(x, y, n, rng, what):
    if n is None:
        return x, y
    if n > len(x):
        raise ValueError(f"{what}={n} is larger than the {len(x)} samples available")
    idx = np.sort(rng.choice(len(x), size=n, replace=False))
    return x[idx], y[idx]


def _to_float_images(x):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype == np.uint8:
        return x.astype(np.float32) / _UINT8_MAX
    return x.astype(np.float32)


def _resize(x, size):
    import keras

    out = keras.ops.image.resize(x, size, interpolation="bilinear", antialias=True)
    return np.clip(keras.ops.convert_to_numpy(out), 0.0, 1.0)


def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / _DIGITS_MAX).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def keras_cache_dir() -> str:
    """The directory ``keras.datasets`` caches files in (``$KERAS_HOME/datasets``)."""
    from keras.src.backend import config

    return os.path.join(os.path.expanduser(config.keras_home()), "datasets")


def _keras_dataset(name):
    import keras

    loader = getattr(keras.datasets, name).load_data
    files, origin = _KERAS_FILES[name]
    paths = [os.path.join(keras_cache_dir(), f) for f in files]
    try:
        return loader()
    except Exception as err:  # urllib errors, refused connections, bad archives...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        reason = reason.rsplit(" -- ", 1)[-1][:200]  # keras: "URL fetch failure on URL: n -- why"
        if all(os.path.exists(p) for p in paths):
            raise DatasetUnavailableError(
                f"dataset {name!r}: the cached file {', '.join(paths)} could not be read "
                f"({reason}); delete it and place a fresh copy of {origin} there"
            ) from None
        raise DatasetUnavailableError(
            f"dataset {name!r} is not in the Keras cache and could not be downloaded "
            f"({reason}); download {origin} and place it at {', '.join(paths)}"
        ) from None


def make_shapes(n: int, size=(32, 32), seed: int = 0):
    """Draw ``n`` images of filled squares (0), circles (1) and triangles (2).

    Each image has a random background grey level with noise and one shape of random colour,
    size and position. Deterministic for a given ``seed``. Returns ``(x, y)``: ``x`` float32
    ``(n, h, w, 3)`` in [0, 1], ``y`` int32 in {0, 1, 2} (balanced: class ``i % 3``).
    """
    _check_positive_int(n, "number of shapes", allow_none=False)
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    if min(h, w) < 8:
        raise ValueError(f"shapes need images of at least 8×8 pixels, got {h}×{w}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = np.empty((n, h, w, 3), np.float32)
    y = (np.arange(n) % 3).astype(np.int32)
    rng.shuffle(y)
    for i in range(n):
        bg = rng.uniform(0.0, 0.35)
        img = bg + rng.normal(0.0, 0.04, (h, w, 1)).astype(np.float32)
        img = np.repeat(img, 3, axis=-1)
        r = rng.uniform(0.2, 0.38) * min(h, w)
        cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
        if y[i] == 0:
            mask = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
        elif y[i] == 1:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        else:  # upright triangle: apex at top, base at bottom
            top, bottom = cy - r, cy + r
            half = (yy - top) / (2 * r) * r
            mask = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
        colour = rng.uniform(0.55, 1.0, 3).astype(np.float32)
        img[mask] = colour
        x[i] = np.clip(img, 0.0, 1.0)
    return x, y


def stated_normalization(scale=None, offset=None, source="the data") -> dict:
    """The normalization of user data, as the user states it (``x = raw * scale + offset``).

    Nothing stated gives ``scale``/``offset`` ``None`` and a description saying so: the app
    must prepare inputs exactly like ``source``.

    Example:
        >>> stated_normalization(1 / 255)["description"]
        'x = raw * 0.00392157 + 0 (as stated)'
        >>> stated_normalization()["scale"] is None
        True
    """
    for key, value in (("scale", scale), ("offset", offset)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not np.isfinite(value)
        ):
            raise ValueError(f"input {key} must be a finite number, got {value!r}")
    if scale == 0:
        raise ValueError("input scale must not be 0 (every input would become the offset)")
    if scale is None and offset is None:
        return {
            "scale": None,
            "offset": None,
            "description": f"not stated: feed inputs prepared exactly like the samples of {source}",
        }
    s = 1.0 if scale is None else float(scale)
    o = 0.0 if offset is None else float(offset)
    return {"scale": s, "offset": o, "description": f"x = raw * {s:g} + {o:g} (as stated)"}


@dataclass(frozen=True)
class ModelData:
    """Data shaped for one model's input, as :func:`for_model` returns it.

    ``x``/``y``: the training samples (for a ``.npy`` file or an array: all of them; ``y`` is
    ``None`` without labels); ``x_test``/``y_test``: the test split (datasets only);
    ``class_names``: the dataset's; ``normalization``: ``{"scale", "offset", "description"}``,
    how raw inputs become these samples (scale/offset ``None`` when nobody stated it);
    ``source``: the dataset name, the file, or ``"array"``.
    """

    x: np.ndarray
    y: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list | None
    normalization: dict
    source: str

    @property
    def train(self):
        """``(x, y)``."""
        return self.x, self.y

    @property
    def test(self):
        """``(x_test, y_test)``, or ``None`` without a test split."""
        return None if self.x_test is None else (self.x_test, self.y_test)


def input_shape_of(model_or_input_shape) -> tuple:
    """The per-sample input shape of a Keras model (single input) or of a shape tuple."""
    if isinstance(model_or_input_shape, (tuple, list)):
        shape = tuple(model_or_input_shape)
        if not shape or not all(
            s is None or (isinstance(s, (int, np.integer)) and s > 0) for s in shape
        ):
            raise ValueError(f"input shape must be positive integers (or None), got {shape!r}")
        return tuple(None if s is None else int(s) for s in shape)
    inputs = getattr(model_or_input_shape, "inputs", None)
    if inputs is None or isinstance(model_or_input_shape, np.ndarray):
        got = type(model_or_input_shape).__name__
        if isinstance(model_or_input_shape, np.ndarray):
            got = f"an array of shape {model_or_input_shape.shape}"
        elif isinstance(model_or_input_shape, (str, os.PathLike)):
            got = f"the path {str(model_or_input_shape)!r} (load it with kerasnets.io.load_model)"
        raise TypeError(f"expected a Keras model or an input shape tuple, got {got}")
    if len(inputs) != 1:
        raise ValueError(f"only single-input models are supported, got {len(inputs)} inputs")
    return tuple(inputs[0].shape[1:])


def _fits(got, expected):
    return len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got))


def _shape_to(x, shape, label):
    """``x`` reshaped to ``(n, *shape)`` if its samples hold the same number of values."""
    got = tuple(x.shape[1:])
    if _fits(got, shape):
        return x
    if None not in shape and int(np.prod(got)) == int(np.prod(shape)):
        return x.reshape((len(x), *shape))
    values = "" if None in shape else f" ({int(np.prod(shape))} values)"
    raise ValueError(
        f"{label} has samples of shape {got} ({int(np.prod(got))} values) that do not fit "
        f"the model input {shape}{values}"
    )


def _read_npy(path, label):
    path_text = str(path)
    if not os.path.isfile(path_text):
        raise FileNotFoundError(f"no such .npy file: {path_text!r}")
    try:
        return np.load(path_text, allow_pickle=False)
    except Exception as err:  # not .npy, truncated, pickled objects
        reason = " ".join(str(err).split())[:150] or type(err).__name__
        raise ValueError(f"{label} is not a readable .npy array ({reason})") from None


def check_samples(x, label: str = "data array"):
    """Float32 samples from ``x``; ``ValueError`` for non-numbers, empty data, NaN or Inf.

    ``label`` names the data in the message (e.g. ``"calibration data 'x.npy'"``).

    Example:
        >>> check_samples(np.zeros((0, 64)), "calibration data 'x.npy'")
        Traceback (most recent call last):
        ...
        ValueError: calibration data 'x.npy' is empty (shape (0, 64))
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{label} holds {x.dtype} values; expected numbers")
    if x.ndim < 2:
        raise ValueError(
            f"{label} has shape {x.shape}; expected samples along the first axis, "
            "e.g. (n, 64) or (n, 8, 8, 1)"
        )
    if x.size == 0:
        raise ValueError(f"{label} is empty (shape {x.shape})")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
        raise ValueError(
            f"{label} contains {int(bad.sum())} NaN/Inf values (first in sample {first}); "
            "remove or fix them"
        )
    return x


def _check_labels(y, n, label):
    y = np.asarray(y)
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"{label} must hold integer class indices, got {y.dtype} values")
    y = y.reshape(-1)
    if len(y) != n:
        raise ValueError(f"{label} has {len(y)} labels for {n} samples")
    if len(y) and y.min() < 0:
        raise ValueError(f"{label} has negative class indices (min {int(y.min())})")
    return y.astype(np.int32)


def for_model(
    source,
    model_or_input_shape,
    *,
    labels=None,
    scale: float | None = None,
    offset: float | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
    what: str = "data",
) -> ModelData:
    """Data shaped for a model's input: a dataset name, a ``.npy`` file or an array.

    The one place the toolkit turns "some data" into samples a given model takes (the TFLite
    pipeline, ``kerasnets export`` and ``kerasnets evaluate-tflite`` use it). Dataset samples
    are flattened for vector inputs, given the model's channel count, drawn at the model's size
    for ``shapes``, else reshaped when the value counts agree (digits as 64-vectors or 8×8×1
    images). ``.npy`` files and arrays are checked before anything uses them: numbers, at least
    one sample, samples that fit the input, no NaN or Inf; every problem is one ``ValueError``
    naming the file.

    Args:
        source: a name in ``DATASETS``, a path ending in ``.npy``, or an array of samples.
        model_or_input_shape: a single-input Keras model, or a per-sample shape tuple.
        labels: integer labels for a ``.npy``/array ``source`` (a ``.npy`` path or an array).
        scale, offset: for a ``.npy``/array ``source``, how raw inputs became these samples
            (``x = raw * scale + offset``) as the user states it; written into bundles.
        subset, test_subset, seed: passed to :func:`load` for a dataset.
        what: what the data is for, in messages (``"calibration data"``, ``"--data"``).

    Returns:
        a :class:`ModelData`.

    Raises:
        TypeError: ``model_or_input_shape`` is neither a model nor a shape.
        FileNotFoundError: no such ``.npy`` file.
        ValueError: unknown dataset, unreadable/empty/non-finite data, samples that do not
            fit, labels that do not match; all name the value.
        DatasetUnavailableError: a ``keras.datasets`` file is not cached (no network).

    Example:
        >>> d = for_model("digits", (64,))
        >>> d.x.shape, d.normalization["scale"], d.class_names[:3]
        ((1437, 64), 0.0625, ['0', '1', '2'])
        >>> for_model(np.full((2, 64), np.nan), (64,))
        Traceback (most recent call last):
        ...
        ValueError: data array contains 128 NaN/Inf values (first in sample 0); remove or fix them
    """
    shape = input_shape_of(model_or_input_shape)
    is_path = isinstance(source, (str, os.PathLike))
    if is_path and not str(source).endswith(".npy"):
        name = str(source)
        if name not in DATASETS:
            raise ValueError(
                f"unknown dataset {name!r} for {what}; use one of {', '.join(DATASETS)} "
                "or a .npy file"
            )
        if scale is not None or offset is not None or labels is not None:
            raise ValueError(
                f"dataset {name!r} brings its own labels and normalization "
                f"({NORMALIZATION[name]['description']}); scale/offset/labels are for .npy data"
            )
        if None in shape:
            raise ValueError(
                f"the model input {shape} has unknown dimensions: dataset {name!r} cannot be "
                "shaped to it; use a .npy file"
            )
        kwargs = {"subset": subset, "test_subset": test_subset, "seed": seed}
        if len(shape) == 3 and shape[-1] in (1, 3):
            kwargs["channels"] = shape[-1]
            if name == "shapes":
                kwargs["size"] = shape[:2]
        (x, y), (xt, yt) = load(name, **kwargs)
        label = f"dataset {name!r}"
        x, xt = _shape_to(x, shape, label), _shape_to(xt, shape, label)
        return ModelData(x, y, xt, yt, list(CLASS_NAMES[name]), normalization(name), name)

    label = f"{what} {str(source)!r}" if is_path else f"{what} array"
    raw = _read_npy(source, label) if is_path else source
    x = _shape_to(check_samples(raw, label), shape, label)
    y = None
    if labels is not None:
        labels_is_path = isinstance(labels, (str, os.PathLike))
        labels_label = f"labels {str(labels)!r}" if labels_is_path else "labels array"
        y_raw = _read_npy(labels, labels_label) if labels_is_path else labels
        y = _check_labels(y_raw, len(x), labels_label)
    norm = stated_normalization(scale, offset, str(source) if is_path else "the array")
    return ModelData(x, y, None, None, None, norm, str(source) if is_path else "array")
