"""Shared pieces of the model zoo: argument checks, stems and the classifier head."""

from __future__ import annotations

import functools
import inspect

import keras
from keras import layers

from kerasnets import activations, blocks

STEMS = ("cifar", "imagenet")
#: Inputs with both sides at least this large get the ImageNet stem when ``stem=None``.
IMAGENET_STEM_MIN_SIDE = 128
CLASSIFIER_ACTIVATIONS = ("softmax", "sigmoid", "linear", None)


#: Keras' own constructor arguments that every zoo model passes through (as keras-hub does).
KERAS_KWARGS = ("trainable", "dtype")


def _in_dtype_policy(init):
    """Wrap a zoo ``__init__`` so that ``dtype=`` is the policy of every layer it creates.

    A functional model's layers exist before ``keras.Model.__init__`` runs, so ``dtype`` must
    be in force while the graph is built (keras-hub passes it to each layer by hand; here the
    global policy is set for the duration of the constructor and restored afterwards).
    """

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        if dtype is None:
            return init(self, *args, **kwargs)
        try:
            policy = keras.dtype_policies.get(dtype)
        except ValueError:
            raise ValueError(
                f"unknown dtype {dtype!r}; use a dtype or a dtype policy name such as 'float32', "
                "'mixed_float16' or 'mixed_bfloat16'"
            ) from None
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            return init(self, *args, **kwargs)
        finally:
            keras.config.set_dtype_policy(previous)

    # Keras records constructor arguments by reading the signature (getfullargspec, which
    # does not follow functools.wraps): give the wrapper the real one.
    __init__.__signature__ = inspect.signature(init)
    return __init__


class ZooModel(keras.Model):
    """A functional model whose config is its constructor arguments (keras-hub style).

    Subclasses build a functional graph in ``__init__``, call ``super().__init__(inputs=...,
    outputs=..., name=..., **kwargs)`` and then :meth:`_remember` the arguments ``get_config``
    returns. ``**kwargs`` may hold Keras' own ``trainable`` and ``dtype`` (the dtype policy of
    every layer); any other keyword is refused with ``TypeError``, so a misspelt option never
    passes silently.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _in_dtype_policy(cls.__dict__["__init__"])

    def __init__(self, inputs, outputs, name=None, **kwargs):
        unknown = sorted(set(kwargs) - set(KERAS_KWARGS))
        if unknown:
            own = [
                p
                for p in inspect.signature(type(self).__init__).parameters
                if p not in ("self", "kwargs")
            ]
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) "
                f"{', '.join(map(repr, unknown))}; allowed: {', '.join(own + list(KERAS_KWARGS))}"
            )
        self._zoo_dtype = kwargs.get("dtype")
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

    def _remember(self, **config):
        self._zoo_config = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, **dict(self._zoo_config)}
        if self._zoo_dtype is not None:
            config["dtype"] = keras.dtype_policies.serialize(self.dtype_policy)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


def check_int(value, what, minimum=1):
    from kerasnets._checks import positive_int

    return positive_int(value, what, minimum)


def check_number(value, what, low=0.0, high=None, low_inclusive=False):
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if ok:
        ok = value >= low if low_inclusive else value > low
        ok = ok and (high is None or value <= high)
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and <= {high}" if high else "")
        raise ValueError(f"{what} must be a number {bound}, got {value!r}")
    return float(value)


def check_dropout(value):
    return check_number(value, "dropout", 0.0, 1.0, low_inclusive=True) if value else 0.0


def check_classifier_activation(value):
    if value not in CLASSIFIER_ACTIVATIONS:
        raise ValueError(
            f"unknown classifier_activation {value!r}; allowed: 'softmax', 'sigmoid', 'linear', "
            "None (logits)"
        )
    return value


def check_input_shape(input_shape, rank=3) -> tuple:
    """``input_shape`` as a tuple of ``rank`` positive ints (height, width, channels for images)."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != rank
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        what = "(height, width, channels)" if rank == 3 else f"{rank} positive integers"
        raise ValueError(f"input_shape must be {what} with positive integers, got {input_shape!r}")
    return shape


def resolve_stem(stem, input_shape, model, min_side) -> str:
    """Pick the stem and check that the input is large enough for it.

    ``stem=None`` chooses ``"imagenet"`` when both sides are at least 128 pixels, else
    ``"cifar"``. ``min_side`` maps each stem to the smallest side the network can downsample
    (its total stride).
    """
    if stem is None:
        stem = "imagenet" if min(input_shape[:2]) >= IMAGENET_STEM_MIN_SIDE else "cifar"
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; allowed: 'cifar', 'imagenet' or None (auto)")
    need = min_side[stem]
    if min(input_shape[:2]) < need:
        hint = " (use stem='cifar' for small images)" if stem == "imagenet" else ""
        raise ValueError(
            f"input_shape {tuple(input_shape)} is too small for the {stem!r} stem of {model}: "
            f"height and width must be at least {need}{hint}"
        )
    return stem


def check_activation(activation):
    if not isinstance(activation, str):
        raise ValueError(
            f"unknown activation {activation!r}; available: {', '.join(activations.available())}"
        )
    return activations.check(activation)


def apply_imagenet_stem(x, filters, activation, use_bias=False, normalize=True, name="conv1"):
    """7×7/2 conv (→ BN → act) → 3×3/2 max-pool: the ResNet/DenseNet ImageNet stem (÷4)."""
    if normalize:
        x = blocks.apply_conv_bn_act(x, filters, 7, 2, activation, use_bias, name=name)
    else:
        x = blocks.apply_conv(x, filters, 7, 2, use_bias=use_bias, name=f"{name}_conv")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def apply_classifier(x, num_classes, classifier_activation, dropout=0.0):
    """Global average pooling → dropout → dense classifier (named ``predictions``).

    Under a mixed-precision policy (``mixed_float16``, ``mixed_bfloat16``) the classifier runs
    in float32, so the model's outputs (softmax, loss) are float32 as Keras recommends.
    """
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="top_dropout")(x)
    mixed = keras.config.dtype_policy().name.startswith("mixed_")
    return layers.Dense(
        num_classes,
        activation=classifier_activation,
        dtype="float32" if mixed else None,
        name="predictions",
    )(x)
