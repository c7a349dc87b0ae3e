"""Neural architecture search on Optuna (the lecture's project 4).

- :mod:`~kerasnets.nas.space`: the search space (:class:`SearchSpace`, JSON round trip) and
  :class:`Architecture`.
- :mod:`~kerasnets.nas.builder`: :func:`build` turns an architecture into a Keras functional
  model of :mod:`kerasnets.blocks`.
- :mod:`~kerasnets.nas.samplers`: random search, regularized evolution
  (:class:`RegularizedEvolutionSampler`) and NSGA-II, all Optuna samplers.
- :mod:`~kerasnets.nas.study`: :func:`search` (a whole run with its report) and :func:`work`
  (one worker of a study shared through PostgreSQL).
- :mod:`~kerasnets.nas.report`: Pareto front, top 5, patterns, cost, figures, ``report.md``.
- :mod:`~kerasnets.nas.proxies`: zero-cost proxies that score an untrained network.

Example:
    >>> from kerasnets import nas
    >>> space = nas.SearchSpace(channels=(32, 64), max_layers=6)
    >>> nas.SearchSpace.from_json(space.to_json()).channels
    (32, 64)
"""

from kerasnets.nas.builder import build, mobilenet_style
from kerasnets.nas.samplers import STRATEGIES, RegularizedEvolutionSampler, make_sampler
from kerasnets.nas.space import (
    LAYER_TYPES,
    Architecture,
    Layer,
    SearchSpace,
    architecture_from_params,
)
from kerasnets.nas.study import FAST_SPACE, StudyMismatchError, search, work, write_study_report

__all__ = [
    "FAST_SPACE",
    "LAYER_TYPES",
    "STRATEGIES",
    "Architecture",
    "Layer",
    "RegularizedEvolutionSampler",
    "SearchSpace",
    "StudyMismatchError",
    "architecture_from_params",
    "build",
    "make_sampler",
    "mobilenet_style",
    "search",
    "work",
    "write_study_report",
]
