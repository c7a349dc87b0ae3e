"""What a model costs: parameters, multiply-accumulates, activation memory and CPU latency.

The measurements of the lecture's hands-on project 3, for any Sequential or functional Keras 3
model (nested models included) on any backend:

* :func:`profile` — per layer and in total: parameters (trainable / non-trainable), MACs per
  example (analytic formula per layer type, see :mod:`kerasnets.analysis.macs`), bytes of each
  layer's output for a batch. ``str(profile(model))`` is a table; ``.to_dict()`` is JSON data.
* :func:`count_params`, :func:`count_macs` — just the totals.
* :func:`latency` — median ``predict_on_batch`` time after warm-up, per batch size.
* :func:`compare` / :func:`comparison_table` — several models side by side, with ratios to the
  first (project 3's baseline-vs-efficient table, accuracy aside).
* :func:`register_macs` — add a MAC formula for your own layer type; layer types without one
  are reported as *uncounted*, never silently.

The lecture's formulas come out of the counter: a k×k convolution from M to N channels costs
``D²·M·N`` MACs per output position, a depthwise-separable one ``D²·M + M·N``.

Example:
    >>> import keras
    >>> from kerasnets import analysis
    >>> x = keras.Input((32, 32, 3))
    >>> y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    >>> model = keras.Model(x, y)
    >>> analysis.count_macs(model) == 32 * 32 * 3 * 3 * 3 * 16
    True
    >>> print(analysis.profile(model, batch_size=32))  # doctest: +SKIP
"""

from kerasnets.analysis.compare import compare, comparison_table
from kerasnets.analysis.latency import latency
from kerasnets.analysis.macs import layer_macs, register_macs
from kerasnets.analysis.profile import Profile, count_macs, count_params, profile
from kerasnets.analysis.render import human, human_bytes, plain_table, rich_table

__all__ = [
    "Profile",
    "compare",
    "comparison_table",
    "count_macs",
    "count_params",
    "human",
    "human_bytes",
    "latency",
    "layer_macs",
    "plain_table",
    "profile",
    "register_macs",
    "rich_table",
]
