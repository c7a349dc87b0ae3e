"""Training diagnostics as Keras callbacks: dead neurons, gradient flow, activation statistics
and exploding gradients, on TensorFlow, JAX and PyTorch.

Import them as ``from callbacks import ...`` and pass them to ``model.fit(callbacks=[...])``.
Each takes its probe data first, works with any functional or Sequential Keras 3 model (nested
functional models included; layers inside one are named ``"outer/inner"``), checks at the end of
every epoch or every ``every_n_batches`` batches, and gives:

- ``history``: ``{layer_name: {key: [value per check]}}``, plain lists of numbers;
- ``summary``: scalar series, also merged into the Keras ``logs`` (``History``, ``CSVLogger``);
- ``to_json(path)``, ``plot()`` (a matplotlib Figure) and ``measure(model)`` (one check now);
- a :class:`TrainingDiagnosticWarning`, once per layer, naming the layer and the remedies;
- with ``log_dir=DIR``, TensorBoard event files of every per-layer number and the activation
  histograms, written while training on every backend without TensorFlow (run
  ``DIR/diagnostics``, one section per monitor; give ``keras.callbacks.TensorBoard`` the same
  ``DIR``, in any order). :func:`write_tensorboard` writes them after training instead.

Gradients come from :func:`kerasnets.backend.loss_and_gradients`; nothing of the training run
changes. Monitors of one ``fit`` that check at the same moment share the work: one forward pass
over the probe for the dead-unit and activation statistics, one gradient for gradient flow and
explosion (given the same probe data). A model whose layer outputs cannot be reached, an empty
probe set or an unknown layer name raises ``ValueError`` when training begins.

Example:
    >>> import keras, numpy as np
    >>> from callbacks import DeadNeuronMonitor, GradientFlowMonitor
    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(8, activation="relu", name="hidden"),
    ...                           keras.layers.Dense(2, activation="softmax", name="output")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> x, y = np.random.rand(64, 4).astype("float32"), np.arange(64) % 2
    >>> monitors = [DeadNeuronMonitor(x), GradientFlowMonitor(x, y)]
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=monitors)
    >>> sorted(monitors[1].history)
    ['hidden', 'output']
"""

from callbacks._base import Monitor, TrainingDiagnosticWarning
from callbacks._tensorboard import tensorboard_command, write_tensorboard
from callbacks.activation_stats import ActivationStatsMonitor
from callbacks.dead_neurons import DeadNeuronMonitor
from callbacks.explosion import GradientExplosionMonitor
from callbacks.gradient_flow import GradientFlowMonitor

__all__ = [
    "ActivationStatsMonitor",
    "DeadNeuronMonitor",
    "GradientExplosionMonitor",
    "GradientFlowMonitor",
    "Monitor",
    "TrainingDiagnosticWarning",
    "tensorboard_command",
    "write_tensorboard",
]
