"""What every monitor shares: probe data, layer selection, check frequency, history, output."""

from __future__ import annotations

import hashlib
import warnings
import weakref

import keras
import numpy as np

from callbacks._probe import LayerOutputs, LayerTree, is_activation_layer, prepare_probe
from callbacks._tensorboard import check_log_dir

# model -> {key: (fit params, (epoch, batch), value)}: what one check computed, for the other
# monitors of the same fit that check at the same moment (see Monitor._shared).
_SHARED = weakref.WeakKeyDictionary()


class TrainingDiagnosticWarning(UserWarning):
    """Warned by the monitors (dead units, vanishing or exploding gradients), once per layer.

    Filter it like any warning, e.g. ``warnings.simplefilter("error",
    TrainingDiagnosticWarning)`` to turn a diagnosis into an exception.
    """


def sync_state(model) -> None:
    """On JAX, write the trainer's current state into the model's variables (no-op elsewhere)."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


def fingerprint(*arrays) -> str:
    """A digest of the contents, shapes and dtypes of (nested structures of) arrays."""
    digest = hashlib.blake2b(digest_size=16)
    for tree in arrays:
        for a in keras.tree.flatten(tree) if tree is not None else [None]:
            if a is None:
                digest.update(b"None")
                continue
            a = np.ascontiguousarray(a)
            digest.update(f"{a.shape}{a.dtype.str}".encode())
            digest.update(a.data)
    return digest.hexdigest()


def _positive_int_or_none(value, name):
    from kerasnets._checks import positive_int

    return positive_int(value, name, allow_none=True)


def _fraction(value, name, low=0.0, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class Monitor(keras.callbacks.Callback):
    """Base class of the monitors: probe data, frequency, ``history``, ``to_json``, warnings.

    Subclasses implement ``_setup(tree)`` (choose layers, build what ``_compute`` needs) and
    ``_compute()`` returning ``(per_layer, summary)``: ``{layer: {key: number or list}}`` and
    ``{key: number}``; ``_inspect(per_layer, summary, where)`` may warn.

    Attributes:
        history: ``{layer_name: {key: [value per check]}}``, covering the latest ``fit``.
        summary: ``{key: [value per check]}``, the scalars that are also merged into the Keras
            ``logs`` at the end of each epoch (so ``History`` and ``CSVLogger`` record them).
        checks: ``{"epoch": [...], "batch": [...]}``: when each check ran: the 1-based epoch
            and the batch index within it, or None for a check at the end of the epoch. The
            first check, epoch 0, is of the initial weights at ``on_train_begin`` (it also
            validates the set-up), so with the default frequency the lists have one entry more
            than the number of epochs.
        warnings: the messages warned so far (each also sent through ``warnings.warn``).
        log_dir: the TensorBoard log directory the monitor writes to while it trains, or None.
            The numbers of ``history`` and ``summary`` and the activation histograms go to the
            run ``log_dir/diagnostics``, tagged ``<tensorboard_section>/<layer>/<statistic>``,
            on the step axis of ``keras.callbacks.TensorBoard`` (see
            :mod:`callbacks._tensorboard`); give both the same directory, in any order.
    """

    tensorboard_section = "monitor"  # the TensorBoard section (tag prefix) of this monitor
    tensorboard_skip = ()  # per-layer keys not worth a chart (constants)

    def __init__(
        self,
        x_probe,
        y_probe=None,
        *,
        layers=None,
        every_n_batches=None,
        probe_size=256,
        seed=0,
        needs_targets=False,
        log_dir=None,
    ):
        super().__init__()
        name = type(self).__name__
        self.log_dir = check_log_dir(log_dir)
        self._tensorboard = None
        if needs_targets and y_probe is None:
            raise ValueError(f"{name} needs the probe targets y_probe, got None")
        self.every_n_batches = _positive_int_or_none(every_n_batches, "every_n_batches")
        self.x_probe, self.y_probe = prepare_probe(x_probe, y_probe, probe_size, seed, name)
        self._probe_key = fingerprint(self.x_probe, self.y_probe)
        if layers is not None and not isinstance(layers, (str, list, tuple)):
            raise ValueError(f"layers must be None or a list of layer names, got {layers!r}")
        self.layer_names_requested = layers
        self.layer_names = []
        self._reset()
        if self._needs_batch_hook():
            # Only then: a batch hook makes Keras wait for every step (no async dispatch).
            self.on_train_batch_end = self._on_train_batch_end

    def _needs_batch_hook(self):
        return self.every_n_batches is not None

    def _reset(self):
        self.history, self.summary = {}, {}
        self.checks = {"epoch": [], "batch": []}
        self.warnings = []
        self._warned = set()
        self._epoch = 0
        self._epochs_begun = 0
        self._batches = 0
        self._moment = None  # (epoch, batch) while a check inside fit computes
        self._steps = []  # the TensorBoard step of each check (None: not known yet)

    # -- Keras hooks ---------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._close_tensorboard()  # a previous fit that ended in an exception
        self._reset()
        self._moment = (0, None)
        try:
            self._prepare(self.model)
        finally:
            self._moment = None
        if self.log_dir is not None:  # only now: no file for a set-up that fails
            from callbacks._tensorboard import acquire

            self._tensorboard = acquire(self.log_dir)
        self._record(0, None, self._computed)  # epoch 0: the weights training starts from

    def on_train_end(self, logs=None):
        _SHARED.pop(self.model, None)  # nothing is shared across fits: free the probe outputs
        self._place_initial_check(0)
        self._close_tensorboard()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epochs_begun += 1
        self._place_initial_check(epoch)

    def _place_initial_check(self, first_epoch):
        """Give the initial check its step once the first epoch's index is known: the step
        before that epoch's (Keras' ``epoch_*`` scalars are at the 0-based epoch index)."""
        if self._steps and self._steps[0] is None:
            self._steps[0] = first_epoch - 1
            self._write_check(0)

    def _close_tensorboard(self):
        if self._tensorboard is not None:
            from callbacks._tensorboard import release

            release(self._tensorboard)
            self._tensorboard = None

    def _current_step(self):
        """Training steps done in this ``fit`` so far (None if Keras does not say)."""
        if self._needs_batch_hook() or self._epochs_begun == 0:
            return self._batches
        steps = (self.params or {}).get("steps")
        return self._epochs_begun * steps if steps else None

    def _on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.every_n_batches and self._batches % self.every_n_batches == 0:
            self._record(self._epoch + 1, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_batches is None:
            self._record(epoch + 1, None)
        if logs is not None:
            logs.update({key: values[-1] for key, values in self.summary.items() if values})

    # -- public ----------------------------------------------------------------------------
    def measure(self, model=None) -> dict:
        """Compute the statistics for the model's current weights now, outside ``fit``.

        Records nothing. Returns ``{"layers": {layer: {key: value}}, "summary": {key: value}}``.
        ``model`` defaults to the model the callback is attached to.
        """
        model = model if model is not None else self.model
        if model is None:
            raise ValueError(f"{type(self).__name__}.measure needs a model")
        if model is not self.model or not self.layer_names:
            self.set_model(model)
            self._prepare(model, validate=False)
        per_layer, summary = self._compute()
        return {"layers": per_layer, "summary": summary}

    def to_json(self, path):
        """Write the history (and checks, summary, warnings) to ``path`` as JSON, atomically."""
        from kerasnets.io import write_json

        return write_json(path, self.as_dict())

    def as_dict(self) -> dict:
        """The results as one JSON-ready dict."""
        return {
            "monitor": type(self).__name__,
            "backend": keras.backend.backend(),
            "checks": self.checks,
            "summary": self.summary,
            "layers": self.history,
            "warnings": self.warnings,
        }

    # -- internals -------------------------------------------------------------------------
    def _prepare(self, model, validate=True):
        name = type(self).__name__
        if model is None:
            raise ValueError(f"{name} is not attached to a model")
        if isinstance(model, keras.Sequential) and not model.built:
            # A Sequential model without an Input is built by its first training step, after
            # on_train_begin: build it now from the probe's shape, as fit would.
            shapes = [(None, *a.shape[1:]) for a in keras.tree.flatten(self.x_probe)]
            try:
                model.build(shapes[0] if len(shapes) == 1 else shapes)
            except Exception as error:
                raise ValueError(
                    f"{name} cannot build model {model.name!r} from the probe's shape "
                    f"{shapes}: {error}"
                ) from error
        tree = LayerTree(model)
        self._setup(tree)
        if validate:
            # One computation now turns a mismatch (probe shape, targets, loss) into a clear
            # error before training rather than a backend traceback at the end of an epoch.
            try:
                self._computed = self._compute()
            except Exception as error:
                raise ValueError(
                    f"{name} cannot compute its statistics for model {model.name!r} on the "
                    f"probe data (is the probe shaped like the model's input?): {error}"
                ) from error

    def _record(self, epoch, batch, computed=None):
        if computed is None:
            self._moment = (epoch, batch)
            try:
                computed = self._compute()
            finally:
                self._moment = None
        per_layer, summary = computed
        self.checks["epoch"].append(int(epoch))
        self.checks["batch"].append(None if batch is None else int(batch))
        for layer, values in per_layer.items():
            slot = self.history.setdefault(layer, {})
            for key, value in values.items():
                slot.setdefault(key, []).append(value)
        for key, value in summary.items():
            self.summary.setdefault(key, []).append(value)
        if epoch == 0:
            where = "the start of training (initial weights)"
        else:
            where = f"epoch {epoch}" + ("" if batch is None else f", batch {batch}")
        self._inspect(per_layer, summary, where)
        if self.every_n_batches is not None:
            step = self._batches  # Keras' batch_* step: training batches done in this fit
        elif epoch == 0 and batch is None and not self._epochs_begun:
            step = None  # initial weights: placed before the first epoch once it begins
        else:
            step = epoch - 1  # Keras' epoch_* step: the 0-based index of the epoch
        self._steps.append(step)
        self._write_check(len(self._steps) - 1)

    def _write_check(self, index):
        step = self._steps[index]
        if self._tensorboard is not None and step is not None:
            from callbacks._tensorboard import check_events

            self._tensorboard.write(step, *check_events(self, index))

    def tensorboard_steps(self) -> list[int]:
        """The TensorBoard step of each check of the latest ``fit`` (see ``log_dir``)."""
        return [-1 if step is None else step for step in self._steps]

    def _inspect(self, per_layer, summary, where):
        pass

    def _shared(self, key, compute):
        """``compute()``, or its value from another monitor of this ``fit`` that computed the
        same ``key`` at the same check (same epoch and batch, so the same weights).

        The monitors of one ``fit`` get the same ``params`` dict from Keras, which tells them
        apart from those of another ``fit``. Dead-unit and activation statistics share one
        forward pass over the probe, gradient flow and explosion one gradient. Outside ``fit``
        (``measure``) nothing is shared.
        """
        params = self.params
        if self._moment is None or not params:
            return compute()
        try:
            entries = _SHARED.setdefault(self._model, {})
        except TypeError:  # a model that cannot be weakly referenced
            return compute()
        entry = entries.get(key)
        if entry is not None and entry[0] is params and entry[1] == self._moment:
            return entry[2]
        value = compute()
        entries[key] = (params, self._moment, value)
        return value

    def _warn(self, key, message):
        if key in self._warned:
            return
        self._warned.add(key)
        self.warnings.append(message)
        warnings.warn(message, TrainingDiagnosticWarning, stacklevel=3)

    def check_labels(self) -> list[str]:
        """A label per check: ``"0"`` (initial weights), ``"1"`` (end of epoch 1) or ``"1:40"``
        (epoch 1, batch 40)."""
        return [
            f"{e}" if b is None else f"{e}:{b}"
            for e, b in zip(self.checks["epoch"], self.checks["batch"])
        ]


class OutputMonitor(Monitor):
    """A monitor of layer outputs on the probe (dead units, activation statistics).

    Handles what those share: ``atol`` and ``batch_size``, the default layers (hidden
    activations, see :func:`callbacks._probe.is_activation_layer`), and :meth:`_outputs_now`,
    one forward pass per check for every such monitor of a ``fit`` that watches the same layers
    on the same probe. Subclasses set ``_purpose`` (for the "no layer to ..." error).
    """

    _purpose = "watch"

    def __init__(
        self, x_probe, *, layers, atol, every_n_batches, probe_size, seed, batch_size, log_dir
    ):
        self.atol = _fraction(atol, "atol", 0.0, float("inf"))
        if batch_size is None:
            raise ValueError("batch_size must be a positive int, got None")
        self.batch_size = _positive_int_or_none(batch_size, "batch_size")
        super().__init__(
            x_probe,
            layers=layers,
            every_n_batches=every_n_batches,
            probe_size=probe_size,
            seed=seed,
            log_dir=log_dir,
        )

    def _setup(self, tree):
        self.layer_names = tree.resolve(
            self.layer_names_requested, is_activation_layer, self._purpose
        )
        self._outputs = LayerOutputs.reuse(tree, self.layer_names, self.batch_size)

    def _outputs_now(self) -> dict[str, np.ndarray]:
        """The watched layers' outputs on the probe at the current weights (read-only)."""

        def compute():
            sync_state(self._model)
            outputs = self._outputs(self.x_probe)
            for a in outputs.values():
                a.flags.writeable = False
            return outputs

        return self._shared(("outputs", id(self._outputs), self._probe_key), compute)


def as_float(value) -> float:
    return float(np.asarray(value, dtype=np.float64))
