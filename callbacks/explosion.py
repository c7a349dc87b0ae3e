"""GradientExplosionMonitor: the warning signs of exploding gradients, with an emergency stop."""

from __future__ import annotations

import collections
import math

import numpy as np

from callbacks._base import Monitor, _positive
from callbacks.gradient_flow import gradient_sums, layer_norm, weight_groups

_REMEDIES = (
    "Remedies: gradient clipping (e.g. optimizer clipnorm=1.0), a lower learning rate, "
    "careful initialization (Glorot/He scale), batch normalization."
)


class GradientExplosionMonitor(Monitor):
    """Watch for the lecture's warning signs of exploding gradients, and stop training if asked.

    Signs, each recorded in ``events`` as a dict (``kind``; ``step``: training steps done in
    this ``fit`` when it was seen, 0 for the initial weights; ``epoch``: 1-based, 0 before
    training; ``layer`` where it applies; ``value``; at most once per kind per epoch) and
    warned once per kind and layer through :class:`~callbacks.TrainingDiagnosticWarning`:

    - ``"nonfinite_loss"``: the training loss is NaN or infinite;
    - ``"loss_jump"``: a batch's loss is more than ``loss_jump_factor`` times the mean of the
      previous ``window`` batch losses (the batch loss is recovered from Keras' running epoch
      mean; only with ``every_n_batches``);
    - ``"grad_norm"``: the global gradient norm on the probe batch exceeds ``max_grad_norm``;
      the event names the layer with the largest gradient norm;
    - ``"nonfinite_grad"``: a gradient on the probe batch holds NaN or Inf (names the layer).

    By default the signs are checked at the end of every epoch (the epoch's loss, and the
    gradient on ``(x_probe, y_probe)`` from :func:`kerasnets.backend.loss_and_gradients`), which
    costs almost nothing. With ``every_n_batches=N`` the loss is checked after every batch and
    the gradient every N batches: ``every_n_batches=1`` catches an explosion at the step it
    starts (and makes Keras wait for each step before the next one). With
    ``stop_training=True`` the first sign sets ``model.stop_training``, so ``fit`` ends after
    the current batch, before the weights turn to NaN.

    Args:
        x_probe, y_probe: probe inputs and targets for the gradient checks.
        loss: the loss; default: the model's compiled loss.
        max_grad_norm: global gradient-norm threshold (100).
        loss_jump_factor: batch-loss jump factor that counts as a sign (10).
        window: number of previous batch losses the jump is measured against (10).
        stop_training: stop ``fit`` at the first sign.
        training: compute the probe gradient in training mode, as the optimizer sees it
            (default; BatchNorm on batch statistics), or in inference mode.
        every_n_batches, probe_size, seed, log_dir: as for the other monitors.

    ``summary`` (and the Keras logs) get ``explosion_grad_norm`` (the global norm at the latest
    check) and ``explosion_events`` (number of signs so far); ``history[layer]["grad_norm"]``
    holds the per-layer norms of every check, ``stopped_at`` the step count at which it asked
    ``fit`` to stop (None if it did not).

    Example:
        >>> from callbacks import GradientExplosionMonitor
        >>> monitor = GradientExplosionMonitor(x[:64], y[:64], every_n_batches=1,
        ...                                    stop_training=True)  # doctest: +SKIP
        >>> model.fit(x, y, callbacks=[monitor])  # doctest: +SKIP
        >>> monitor.events[0]["kind"], monitor.events[0]["step"]  # doctest: +SKIP
        ('grad_norm', 3)
    """

    tensorboard_section = "gradient_explosion"

    def __init__(
        self,
        x_probe,
        y_probe,
        *,
        loss=None,
        max_grad_norm=100.0,
        loss_jump_factor=10.0,
        window=10,
        stop_training=False,
        training=True,
        every_n_batches=None,
        probe_size=256,
        seed=0,
        log_dir=None,
    ):
        self.loss = loss
        self.training = bool(training)
        self.max_grad_norm = _positive(max_grad_norm, "max_grad_norm")
        self.loss_jump_factor = _positive(loss_jump_factor, "loss_jump_factor")
        if loss_jump_factor <= 1:
            raise ValueError(f"loss_jump_factor must be above 1, got {loss_jump_factor!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        self.window = window
        self.stop_training = bool(stop_training)
        super().__init__(
            x_probe,
            y_probe,
            every_n_batches=every_n_batches,
            probe_size=probe_size,
            seed=seed,
            needs_targets=True,
            log_dir=log_dir,
        )

    def _needs_batch_hook(self):
        return self.every_n_batches is not None  # then the loss is checked after every batch

    def _reset(self):
        super()._reset()
        self.events = []
        self.stopped_at = None
        self._recent = collections.deque(maxlen=getattr(self, "window", 10))
        self._running = None  # (batch index, running mean) of the previous batch
        self._seen = set()

    def _setup(self, tree):
        self.layer_names = [n for n, layer in tree.layers.items() if layer.trainable_weights]
        if not self.layer_names:
            raise ValueError(f"model {tree.model.name!r} has no trainable weights to watch")
        self._groups = weight_groups(tree, self.layer_names)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_batches is None and logs and "loss" in logs:
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                self._event(
                    "nonfinite_loss",
                    self._current_step(),
                    None,
                    loss,
                    f"the training loss of epoch {epoch + 1} is {loss}",
                )
        super().on_epoch_end(epoch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._running = None

    def _on_train_batch_end(self, batch, logs=None):
        step = self._batches + 1  # steps done, this one included
        loss = None if not logs or "loss" not in logs else float(logs["loss"])
        if loss is not None:
            self._check_loss(batch, loss, step)
        super()._on_train_batch_end(batch, logs)

    def _check_loss(self, batch, running_mean, step):
        # Keras reports the running mean over the epoch: recover this batch's loss from it.
        if self._running is None:
            current = running_mean
        else:
            prev_batch, prev_mean = self._running
            current = ((batch + 1) * running_mean - (prev_batch + 1) * prev_mean) / max(
                batch - prev_batch, 1
            )
        self._running = (batch, running_mean)
        if not math.isfinite(running_mean):
            self._event(
                "nonfinite_loss",
                step,
                None,
                running_mean,
                "the training loss is "
                f"{running_mean} after step {step} (epoch {self._epoch + 1}, batch {batch})",
            )
            return
        if len(self._recent) == self._recent.maxlen:
            reference = float(np.mean(self._recent))
            if reference > 0 and current > self.loss_jump_factor * reference:
                self._event(
                    "loss_jump",
                    step,
                    None,
                    current,
                    f"the batch loss jumped to {current:.4g}, {current / reference:.3g}x the "
                    f"mean of the previous {len(self._recent)} batches, after step {step} "
                    f"(epoch {self._epoch + 1}, batch {batch})",
                )
        self._recent.append(current)

    def _compute(self):
        _, sums = gradient_sums(self)
        per_layer = {
            name: {"grad_norm": layer_norm(weights, sums)} for name, weights in self._groups.items()
        }
        total = float(np.sqrt(sum(s["grad_norm"] ** 2 for s in per_layer.values())))
        # The probe loss is GradientFlowMonitor's to report (one writer per Keras log key).
        return per_layer, {"explosion_grad_norm": total}

    def _inspect(self, per_layer, summary, where):
        self._look_for_signs(per_layer, summary, where)
        self.summary.setdefault("explosion_events", []).append(len(self.events))

    def _look_for_signs(self, per_layer, summary, where):
        step = self._current_step()
        bad = [n for n, s in per_layer.items() if not math.isfinite(s["grad_norm"])]
        if bad:
            self._event(
                "nonfinite_grad",
                step,
                bad[0],
                per_layer[bad[0]]["grad_norm"],
                f"the gradient of layer {bad[0]!r} holds NaN/Inf on the probe batch at {where} "
                f"(after {step} steps)",
            )
            return
        total = summary["explosion_grad_norm"]
        if total > self.max_grad_norm:
            layer = max(per_layer, key=lambda n: per_layer[n]["grad_norm"])
            self._event(
                "grad_norm",
                step,
                layer,
                total,
                f"the gradient norm on the probe batch is {total:.4g} (threshold "
                f"{self.max_grad_norm:g}) at {where} (after {step} steps); the largest is at layer "
                f"{layer!r} ({per_layer[layer]['grad_norm']:.4g})",
            )

    def _event(self, kind, step, layer, value, text):
        epoch = self._epochs_begun
        if (kind, epoch) in self._seen:
            return
        self._seen.add((kind, epoch))
        self.events.append(
            {"kind": kind, "step": step, "epoch": epoch, "layer": layer, "value": value}
        )
        stopping = self.stop_training and self.stopped_at is None
        self._warn(
            (kind, layer),
            f"GradientExplosionMonitor: {text}. {_REMEDIES}"
            + (" Stopping training." if stopping else ""),
        )
        if stopping:
            self.stopped_at = step
            self._model.stop_training = True

    def as_dict(self):
        data = super().as_dict()
        data.update(events=self.events, stopped_at=self.stopped_at)
        return data

    def plot(self, title=None):
        """Global gradient norm per check (log scale) with the threshold and the events."""
        from callbacks._plots import explosion_figure

        return explosion_figure(self, title)
