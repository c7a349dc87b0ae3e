"""Pruning schedules with the semantics of TensorFlow Model Optimization (tfmot).

A schedule maps the training step to ``(should_prune, sparsity)``: whether the masks are
recomputed at this step, and the fraction of weights that must then be zero. The formulas and
the step convention are tfmot's (``tfmot.sparsity.keras.ConstantSparsity`` and
``PolynomialDecay``), so a recipe written for tfmot means the same here:

- pruning happens on steps ``begin_step <= step <= end_step`` (``end_step=-1``: forever) with
  ``(step - begin_step) % frequency == 0``;
- ``PolynomialDecay``: ``s(step) = final + (initial - final) * (1 - p) ** power`` with
  ``p = clip((step - begin_step) / (end_step - begin_step), 0, 1)``.

Step 0 is the first training batch (tfmot's ``UpdatePruningStep`` uses the optimizer's
iteration count before the batch; our pruning wrappers count their own training calls from 0).

Example:
    >>> schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
    >>> [round(schedule.sparsity_at(s), 3) for s in (0, 50, 100, 200)]
    [0.0, 0.7, 0.8, 0.8]
    >>> schedule.should_prune_at(20), schedule.should_prune_at(25)
    (True, False)
"""

from __future__ import annotations

import keras
from keras import ops


def check_sparsity(value, name="sparsity"):
    """Return ``value`` as a float if it lies in [0, 1); raise ``ValueError`` otherwise."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (a fraction of zeros), got {value!r}")
    return value


def _check_steps(begin_step, end_step, frequency, allow_open_end):
    if int(begin_step) != begin_step or begin_step < 0:
        raise ValueError(f"begin_step must be an integer >= 0, got {begin_step!r}")
    if int(frequency) != frequency or frequency < 1:
        raise ValueError(f"frequency must be an integer >= 1, got {frequency!r}")
    if allow_open_end and end_step == -1:
        return
    if int(end_step) != end_step or end_step < begin_step:
        allowed = "-1 (never end) or " if allow_open_end else ""
        raise ValueError(f"end_step must be {allowed}an integer >= begin_step, got {end_step!r}")
    if not allow_open_end and end_step == begin_step:
        raise ValueError(f"end_step must be > begin_step for PolynomialDecay, got {end_step!r}")


class PruningSchedule:
    """Base class: ``schedule(step) -> (should_prune, sparsity)`` as backend tensors.

    Subclasses implement :meth:`target` (the sparsity at a step, a tensor) and ``get_config``.
    """

    begin_step: int
    end_step: int
    frequency: int

    def should_prune(self, step):
        """Is ``step`` a pruning step of this schedule? A bool for an ``int``, else a tensor.

        Operators rather than ``keras.ops`` calls, so that one expression serves a Python
        ``int`` (the pruning wrappers' eager path: no tensor op at all) and a traced tensor.
        """
        if not isinstance(step, int):
            step = ops.convert_to_tensor(step, "int32")
        offset = step - self.begin_step
        due = (offset >= 0) & (offset % self.frequency == 0)
        if self.end_step >= 0:
            due = due & (step <= self.end_step)
        return due

    def target(self, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, step):
        return self.should_prune(step), self.target(step)

    def sparsity_at(self, step: int) -> float:
        """The target sparsity at ``step`` as a Python float."""
        return float(ops.convert_to_numpy(self.target(step)))

    def should_prune_at(self, step: int) -> bool:
        """Whether masks are updated at ``step``, as a Python bool."""
        return bool(self.should_prune(int(step)))

    @property
    def final_sparsity(self) -> float:
        raise NotImplementedError

    def scaled(self, factor: float) -> PruningSchedule:
        """The same schedule with every sparsity multiplied by ``factor`` (for global pruning)."""
        config = self.get_config()
        for key in ("target_sparsity", "initial_sparsity", "final_sparsity"):
            if key in config:
                config[key] = min(config[key] * factor, 0.999999)
        return type(self)(**config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="kerasnets")
class ConstantSparsity(PruningSchedule):
    """Prune to a constant ``target_sparsity`` every ``frequency`` steps from ``begin_step``.

    Same arguments and semantics as ``tfmot.sparsity.keras.ConstantSparsity``.

    Example:
        >>> ConstantSparsity(0.5, begin_step=10, frequency=5).should_prune_at(15)
        True
    """

    def __init__(self, target_sparsity, begin_step=0, end_step=-1, frequency=100):
        self.target_sparsity = check_sparsity(target_sparsity, "target_sparsity")
        _check_steps(begin_step, end_step, frequency, allow_open_end=True)
        self.begin_step, self.end_step, self.frequency = (
            int(begin_step),
            int(end_step),
            int(frequency),
        )

    def target(self, step):
        return ops.convert_to_tensor(self.target_sparsity, "float32")

    @property
    def final_sparsity(self):
        return self.target_sparsity

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }


@keras.saving.register_keras_serializable(package="kerasnets")
class PolynomialDecay(PruningSchedule):
    """Raise sparsity from ``initial_sparsity`` to ``final_sparsity`` along a polynomial.

    Same arguments and formula as ``tfmot.sparsity.keras.PolynomialDecay``: fast pruning early,
    slower near the end (``power=3``), masks updated every ``frequency`` steps between
    ``begin_step`` and ``end_step``.

    Example:
        >>> round(PolynomialDecay(0.2, 0.9, 0, 10, power=1).sparsity_at(5), 2)
        0.55
    """

    def __init__(
        self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100
    ):
        self.initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
        self.final_sparsity_ = check_sparsity(final_sparsity, "final_sparsity")
        _check_steps(begin_step, end_step, frequency, allow_open_end=False)
        self.begin_step, self.end_step, self.frequency = (
            int(begin_step),
            int(end_step),
            int(frequency),
        )
        self.power = float(power)

    @property
    def final_sparsity(self):
        return self.final_sparsity_

    def target(self, step):
        step = ops.cast(ops.convert_to_tensor(step), "float32")
        p = ops.clip((step - self.begin_step) / (self.end_step - self.begin_step), 0.0, 1.0)
        span = self.initial_sparsity - self.final_sparsity_
        return ops.cast(span * ops.power(1.0 - p, self.power) + self.final_sparsity_, "float32")

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity_,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }
