"""The model zoo: every architecture of the lecture by name.

``build(name, **options)`` returns a new, built Keras model; ``available()`` lists the names and
``describe(name)`` says in one line what each is. The classes are importable directly
(``from kerasnets.models import ResNet``) and take the same options. Every model is a
functional graph of standard Keras layers whose ``get_config()`` holds its constructor
arguments, so it saves to ``.keras`` and loads back on any backend.

Image models take ``input_shape=(height, width, channels)``, ``num_classes`` and
``stem="cifar" | "imagenet"``. With ``stem=None`` (the default) inputs of 128 pixels or more
per side get the ImageNet stem (strided 7×7 conv and max-pool), smaller ones the CIFAR stem
(a 3×3 conv at full resolution). Classifiers end in a softmax unless
``classifier_activation=None`` asks for logits.

| name | model | defaults |
|---|---|---|
{table}

Example:
    >>> from kerasnets import models
    >>> model = models.build("resnet18", input_shape=(32, 32, 3), num_classes=10)
    >>> model.count_params() > 11_000_000
    True
    >>> models.build("resnet19")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'resnet19'; available: baseline_cnn, ...
"""

import inspect
from types import MappingProxyType

import keras

from kerasnets.models import _base
from kerasnets.models.cnn import BaselineCNN, EfficientCNN
from kerasnets.models.densenet import DenseNet
from kerasnets.models.googlenet import GoogLeNet
from kerasnets.models.mlp import MLP
from kerasnets.models.mobilenet import MobileNet
from kerasnets.models.resnet import PlainNet, ResNet

_IMAGENET = {"input_shape": (224, 224, 3), "num_classes": 1000}
_CIFAR = {"input_shape": (32, 32, 3), "num_classes": 10}

#: name -> (class, default options, one-line description)
_ZOO = {
    "mlp": (MLP, {}, "MLP, 3 hidden layers of 100 units (configurable depth/width/activation)"),
    "mlp_shallow_wide": (
        MLP,
        {"depth": 1, "width": 1000},
        "MLP, 1 hidden layer of 1000 units (lecture: shallow and wide)",
    ),
    "mlp_deep_narrow": (
        MLP,
        {"depth": 3, "width": 100},
        "MLP, 3 hidden layers of 100 units (lecture: deep and narrow, ~8x fewer weights)",
    ),
    "mlp_deep": (
        MLP,
        {"depth": 10, "width": 128},
        "MLP, 10 hidden layers of 128 units (project 1: activation comparison)",
    ),
    "densenet_bc": (
        DenseNet,
        {"blocks": (16, 16, 16), "growth_rate": 12, "stem": "cifar", **_CIFAR},
        "DenseNet-BC-100, k=12, for 32x32 inputs, ~0.8M params (Huang et al. 2017)",
    ),
    "googlenet": (
        GoogLeNet,
        dict(_IMAGENET),
        "GoogLeNet / Inception v1 with BN, 9 inception modules (Szegedy et al. 2015)",
    ),
    "mobilenet": (
        MobileNet,
        dict(_IMAGENET),
        "MobileNet v1, depthwise-separable blocks, width multiplier alpha (Howard et al. 2017)",
    ),
    "baseline_cnn": (
        BaselineCNN,
        dict(_CIFAR),
        "VGG-style CNN for 32x32x3, ~0.82M params (project 3 baseline)",
    ),
    "efficient_cnn": (
        EfficientCNN,
        dict(_CIFAR),
        "depthwise-separable + inverted-residual CNN for 32x32x3, ~0.41M params (project 3)",
    ),
}
for _depth in (18, 34, 50, 101, 152):
    _kind = "basic" if _depth < 50 else "bottleneck"
    _ZOO[f"resnet{_depth}"] = (
        ResNet,
        {"depth": _depth, **_IMAGENET},
        f"ResNet-{_depth}, {_kind} residual blocks (He et al. 2016)",
    )
for _depth in (18, 34):
    _ZOO[f"plainnet{_depth}"] = (
        PlainNet,
        {"depth": _depth, **_IMAGENET},
        f"ResNet-{_depth} without skip connections (project 2 baseline)",
    )

for _depth in (121, 169, 201):
    _ZOO[f"densenet{_depth}"] = (
        DenseNet,
        {"depth": _depth, **_IMAGENET},
        f"DenseNet-{_depth}, growth rate 32, bottleneck + compression (Huang et al. 2017)",
    )

#: Read-only view: model name -> one-line description.
REGISTRY = MappingProxyType({name: entry[2] for name, entry in _ZOO.items()})


def available() -> list[str]:
    """Sorted names accepted by :func:`build`.

    Example:
        >>> "resnet50" in available()
        True
    """
    return sorted(_ZOO)


def _check_name(name):
    if name not in _ZOO:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    return name


def describe(name: str) -> str:
    """One line saying what model ``name`` is.

    Example:
        >>> describe("plainnet18")
        'ResNet-18 without skip connections (project 2 baseline)'
    """
    return _ZOO[_check_name(name)][2]


def family(name: str) -> str:
    """The architecture family of ``name`` (its model class; both project-3 CNNs are ``"cnn"``).

    Example:
        >>> family("plainnet34"), family("densenet_bc"), family("efficient_cnn")
        ('plainnet', 'densenet', 'cnn')
    """
    cls = _ZOO[_check_name(name)][0]
    return "cnn" if cls in (BaselineCNN, EfficientCNN) else cls.__name__.lower()


def defaults(name: str) -> dict:
    """The options :func:`build` passes for ``name`` unless overridden.

    Example:
        >>> defaults("resnet50")["depth"]
        50
    """
    return dict(_ZOO[_check_name(name)][1])


def options(name: str) -> list[str]:
    """The option names ``build(name, ...)`` accepts (the model class's arguments).

    Example:
        >>> "growth_rate" in options("mlp")
        False
    """
    cls = _ZOO[_check_name(name)][0]
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]


def build(name: str, **options_):
    """Build zoo model ``name`` with its registry defaults overridden by ``options_``.

    Args:
        name: one of :func:`available`.
        **options_: constructor arguments of the model class, e.g. ``input_shape``,
            ``num_classes``, ``stem``, ``width``, ``activation``, and Keras' own ``trainable``
            and ``dtype`` (a dtype policy such as ``"mixed_bfloat16"`` for every layer).

    Raises:
        ValueError: unknown name (lists the available ones), unknown option (lists the
            allowed ones) or a bad option value.

    Example:
        >>> model = build("mlp_deep", input_shape=(64,), activation="tanh")
        >>> len([l for l in model.layers if l.name.endswith("_dense")])
        10
    """
    cls, base, _ = _ZOO[_check_name(name)]
    allowed = options(name) + list(_base.KERAS_KWARGS)
    unknown = sorted(set(options_) - set(allowed))
    if unknown:
        raise ValueError(
            f"model {name!r} has no option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    return cls(**{**base, **options_})


def input_sizes(name: str) -> str:
    """Which inputs zoo model ``name`` takes, in one sentence (shown by ``kerasnets summary``).

    Image models downsample by a fixed total stride, so each stem has a smallest input side;
    with ``stem=None`` the ImageNet stem is chosen from 128×128 up and the CIFAR stem below.

    Example:
        >>> print(input_sizes("resnet50"))  # doctest: +NORMALIZE_WHITESPACE
        images (height, width, channels) with sides >= 8 with stem='cifar' or >= 32 with
        stem='imagenet'; stem=None picks 'imagenet' from 128x128 up
    """
    import sys

    cls = _ZOO[_check_name(name)][0]
    if cls is MLP:
        return "any shape: inputs are flattened to vectors"
    min_side = getattr(sys.modules[cls.__module__], "MIN_SIDE", None)
    if cls is DenseNet:
        from kerasnets.models.densenet import DEPTHS

        options_ = defaults(name)
        blocks_ = len(options_.get("blocks") or DEPTHS[options_.get("depth", 121)])
        min_side = {"cifar": 2 ** (blocks_ - 1), "imagenet": 4 * 2 ** (blocks_ - 1)}
    if not min_side:
        return "images (height, width, channels)"
    return (
        "images (height, width, channels) with sides "
        + " or ".join(f">= {side} with stem={stem!r}" for stem, side in min_side.items())
        + f"; stem=None picks 'imagenet' from {_base.IMAGENET_STEM_MIN_SIDE}x"
        f"{_base.IMAGENET_STEM_MIN_SIDE} up"
    )


def to_functional(model):
    """The same network as a plain ``keras.Model`` (same layers, same weights, no zoo class).

    A zoo model is a registered ``kerasnets`` class, so its ``.keras`` file loads only in a
    process that imported :mod:`kerasnets.models`. The model returned here is an ordinary
    functional ``keras.Model`` over the very same layer objects: its file loads with plain
    ``keras.saving.load_model`` anywhere, as long as every layer is a built-in Keras layer
    (``TypeError`` names the first one that is not). Used by
    ``kerasnets.io.save_model(..., portable=True)``.

    Example:
        >>> model = build("mlp", input_shape=(64,), depth=2, width=8)
        >>> plain = to_functional(model)
        >>> type(plain).__name__, plain.count_params() == model.count_params()
        ('Functional', True)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
    if not getattr(model, "_is_graph_network", False) and not model.inputs:
        raise ValueError(f"model {model.name!r} is not a functional graph; nothing to convert")
    from kerasnets.graph import functional_copy, walk

    for _, leaf, owner in walk(model):
        layer = leaf if owner is model or type(owner).__module__.startswith("keras.") else owner
        name = keras.saving.get_registered_name(type(layer))
        if not type(layer).__module__.startswith("keras."):
            raise TypeError(
                f"layer {layer.name!r} is a {name} (not a built-in Keras layer): a file "
                "with it loads only where kerasnets is imported; use kerasnets.io.load_model"
            )
    return functional_copy(model)  # one input as a tensor: no Keras structure warning


def _table():
    return "\n".join(
        f"| ``{n}`` | {_ZOO[n][2]} | "
        + ", ".join(f"{k}={v!r}" for k, v in _ZOO[n][1].items())
        + " |"
        for n in available()
    )


__doc__ = __doc__.replace("{table}", _table())

__all__ = [
    "REGISTRY",
    "BaselineCNN",
    "DenseNet",
    "EfficientCNN",
    "GoogLeNet",
    "MLP",
    "MobileNet",
    "PlainNet",
    "ResNet",
    "available",
    "build",
    "defaults",
    "describe",
    "family",
    "input_sizes",
    "options",
    "to_functional",
]
