"""The search space of project 4: which networks the search may build.

A network of the space is a chain of ``depth`` layers, each with a type, a channel count and a
flag saying whether it halves the resolution, followed by global average pooling and a softmax
classifier. The lecture's space is the default:

================  =====================================================  ==========================
field             meaning                                                default
================  =====================================================  ==========================
``layer_types``   allowed layer types (see :data:`LAYER_TYPES`)           conv3x3, conv5x5,
                                                                          separable, residual
``min_layers``    fewest layers                                           5
``max_layers``    most layers                                             15
``channels``      allowed output channels of a layer                      32, 64, 128, 256
``max_downsamples`` how many layers may halve the resolution (stride 2);  2
                  *where* is searched
================  =====================================================  ==========================

:class:`SearchSpace` is a frozen dataclass that validates itself and round-trips through JSON
(``to_json`` / ``from_json``), so a study stored in a database records exactly which space it
searches and a worker that brings another one is refused. :meth:`SearchSpace.sample` draws one
:class:`Architecture` through an Optuna trial (define-by-run: the parameters of layer ``i``
exist only if ``depth > i``), so every Optuna sampler can search it.

Example:
    >>> space = SearchSpace(channels=(32, 64), max_layers=8)
    >>> SearchSpace.from_json(space.to_json()) == space
    True
    >>> arch = Architecture.from_dict({"layers": [
    ...     {"type": "conv3x3", "channels": 32, "downsample": False},
    ...     {"type": "separable", "channels": 64, "downsample": True}]})
    >>> arch.describe()
    'conv3x3-32 → separable-64/2'
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

#: Every layer type the builder knows, with what it builds (from :mod:`kerasnets.blocks`).
LAYER_TYPES = {
    "conv3x3": "3×3 convolution → BN → ReLU",
    "conv5x5": "5×5 convolution → BN → ReLU",
    "separable": "depthwise-separable: depthwise 3×3 → BN → ReLU → 1×1 → BN → ReLU (MobileNet)",
    "residual": "residual basic block: two 3×3 convolutions + shortcut (ResNet)",
    "bottleneck": "residual bottleneck: 1×1 → 3×3 → 1×1 (channels/4 inside) + shortcut",
    "inception": "inception module: 1×1 | 3×3 | 5×5 | pool paths, concatenated (GoogLeNet)",
}

DEFAULT_LAYER_TYPES = ("conv3x3", "conv5x5", "separable", "residual")
DEFAULT_CHANNELS = (32, 64, 128, 256)


def _as_tuple(value, what):
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"{what} must be a list, got {value!r}")
    value = tuple(value)
    if not value:
        raise ValueError(f"{what} is an empty choice; give at least one value")
    if len(set(value)) != len(value):
        raise ValueError(f"{what} has repeated values: {list(value)}")
    return value


def _check_int(value, what, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class SearchSpace:
    """The space of networks to search (the lecture's by default; see the module docstring).

    Args:
        layer_types: allowed layer types, a non-empty subset of :data:`LAYER_TYPES`.
        min_layers: fewest layers (≥ 1).
        max_layers: most layers (≥ ``min_layers``).
        channels: allowed channel counts (positive integers; ``bottleneck`` needs multiples of
            4, ``inception`` multiples of 8).
        max_downsamples: at most this many layers halve height and width (≥ 0).

    Raises:
        ValueError: an unknown layer type, an empty or repeated choice, a bad bound.

    Example:
        >>> SearchSpace().max_layers
        15
        >>> SearchSpace(layer_types=("conv7x7",))
        Traceback (most recent call last):
        ...
        ValueError: unknown layer type 'conv7x7' in layer_types; allowed: conv3x3, conv5x5, \
separable, residual, bottleneck, inception
    """

    layer_types: tuple = DEFAULT_LAYER_TYPES
    min_layers: int = 5
    max_layers: int = 15
    channels: tuple = DEFAULT_CHANNELS
    max_downsamples: int = 2

    def __post_init__(self):
        types = _as_tuple(self.layer_types, "layer_types")
        for t in types:
            if t not in LAYER_TYPES:
                raise ValueError(
                    f"unknown layer type {t!r} in layer_types; allowed: {', '.join(LAYER_TYPES)}"
                )
        channels = _as_tuple(self.channels, "channels")
        for c in channels:
            _check_int(c, "every entry of channels", 1)
            if "bottleneck" in types and c % 4:
                raise ValueError(f"bottleneck layers need channels divisible by 4, got {c}")
            if "inception" in types and c % 8:
                raise ValueError(f"inception layers need channels divisible by 8, got {c}")
        _check_int(self.min_layers, "min_layers", 1)
        _check_int(self.max_layers, "max_layers", self.min_layers)
        _check_int(self.max_downsamples, "max_downsamples", 0)
        object.__setattr__(self, "layer_types", types)
        object.__setattr__(self, "channels", tuple(int(c) for c in channels))

    # -- serialization ------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The fields as plain JSON data."""
        return {
            "layer_types": list(self.layer_types),
            "min_layers": self.min_layers,
            "max_layers": self.max_layers,
            "channels": list(self.channels),
            "max_downsamples": self.max_downsamples,
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict` (keys sorted, so equal spaces give equal text)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> SearchSpace:
        """Build from a dict; unknown fields are refused (naming them and the known ones).

        Missing fields take the lecture's defaults, so ``{"channels": [32, 64]}`` narrows the
        default space to two widths.
        """
        if not isinstance(data, dict):
            raise TypeError(f"a search space must be a JSON object, got {type(data).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(
                f"unknown search-space field(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(known)}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Parse :meth:`to_json` output (or a hand-written JSON object); see :meth:`from_dict`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"search space is not valid JSON: {err}") from None
        return cls.from_dict(data)

    # -- sampling -----------------------------------------------------------------------
    def sample(self, trial) -> Architecture:
        """Draw one architecture with an Optuna trial (``trial.suggest_*``, define-by-run).

        Parameters: ``depth``; then for each layer ``i < depth``: ``type_i``, ``channels_i``
        and, while fewer than ``max_downsamples`` layers downsample, ``down_i`` (0 or 1).
        """
        depth = trial.suggest_int("depth", self.min_layers, self.max_layers)
        layers, downs = [], 0
        for i in range(depth):
            kind = trial.suggest_categorical(f"type_{i}", list(self.layer_types))
            channels = trial.suggest_categorical(f"channels_{i}", list(self.channels))
            down = False
            if downs < self.max_downsamples:
                down = bool(trial.suggest_categorical(f"down_{i}", [0, 1]))
                downs += down
            layers.append(Layer(kind, int(channels), down))
        return Architecture(tuple(layers))

    def contains(self, arch: Architecture) -> bool:
        """True if ``arch`` is a member of this space."""
        return (
            self.min_layers <= len(arch.layers) <= self.max_layers
            and all(lay.type in self.layer_types for lay in arch.layers)
            and all(lay.channels in self.channels for lay in arch.layers)
            and arch.downsamples <= self.max_downsamples
        )


@dataclass(frozen=True)
class Layer:
    """One layer of an architecture: type, output channels, and whether it uses stride 2."""

    type: str
    channels: int
    downsample: bool = False

    def __post_init__(self):
        if self.type not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {self.type!r}; allowed: {', '.join(LAYER_TYPES)}")
        _check_int(self.channels, "channels", 1)

    def describe(self) -> str:
        return f"{self.type}-{self.channels}" + ("/2" if self.downsample else "")


@dataclass(frozen=True)
class Architecture:
    """A sampled network: a tuple of :class:`Layer`. Build it with :func:`kerasnets.nas.build`.

    Example:
        >>> a = Architecture((Layer("residual", 64), Layer("conv5x5", 32, True)))
        >>> Architecture.from_dict(a.to_dict()) == a, a.downsamples
        (True, 1)
    """

    layers: tuple

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def downsamples(self) -> int:
        return sum(lay.downsample for lay in self.layers)

    def to_dict(self) -> dict:
        return {"layers": [dataclasses.asdict(lay) for lay in self.layers]}

    @classmethod
    def from_dict(cls, data: dict) -> Architecture:
        if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
            raise ValueError(f"an architecture is {{'layers': [...]}}, got {data!r}")
        if not data["layers"]:
            raise ValueError("an architecture needs at least one layer")
        return cls(tuple(Layer(**lay) for lay in data["layers"]))

    def describe(self) -> str:
        """One line: ``type-channels`` per layer, ``/2`` where it downsamples."""
        return " → ".join(lay.describe() for lay in self.layers)


def architecture_from_params(params: dict) -> Architecture:
    """Rebuild the architecture of a finished trial from its Optuna parameters.

    Example:
        >>> architecture_from_params({"depth": 1, "type_0": "separable", "channels_0": 32,
        ...                           "down_0": 1}).describe()
        'separable-32/2'
    """
    layers = []
    for i in range(int(params["depth"])):
        down = bool(params.get(f"down_{i}", 0))
        layers.append(Layer(params[f"type_{i}"], int(params[f"channels_{i}"]), down))
    return Architecture(tuple(layers))
