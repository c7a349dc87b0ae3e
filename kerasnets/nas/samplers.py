"""Search strategies as Optuna samplers: random, regularized (aging) evolution, NSGA-II.

Random search and NSGA-II are Optuna's own (:class:`optuna.samplers.RandomSampler`,
:class:`optuna.samplers.NSGAIISampler`). Optuna has no regularized evolution, so
:class:`RegularizedEvolutionSampler` implements it here as an :class:`optuna.samplers.BaseSampler`
(Real et al., "Regularized Evolution for Image Classifier Architecture Search", AAAI 2019):

1. the first ``population_size`` trials are random;
2. afterwards the *population* is the ``population_size`` most recently finished trials (older
   ones "age out", which is the regularization). A trial stopped by Optuna's pruner is a member
   too, with its last reported value: in the paper every evaluated child joins the population,
   and without them a search whose children are all pruned would never move on;
3. each new trial draws ``sample_size`` members of the population at random, takes the best
   (tournament selection; equal values go to the one with fewer ``macs``, a user attribute of
   the trial, when there is one) as its parent, and copies the parent's parameters except one,
   chosen at random, which is mutated (a categorical parameter to another choice, an integer
   one to a neighbour).

With a ``space``, whole architectures are drafted in memory before the trial asks for them, and
a draft that repeats a trial of the study is drawn again: a budget of a few dozen trials has no
trial to spend twice on one architecture.

Because the search space is define-by-run (layer ``i`` exists only if ``depth > i``), the
mutation acts on whatever parameter the child actually asks for: a parameter the parent did not
have (the child got deeper) is drawn at random.

Example:
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> sampler = RegularizedEvolutionSampler(population_size=4, sample_size=2, seed=0)
    >>> study = optuna.create_study(direction="maximize", sampler=sampler)
    >>> study.optimize(lambda t: -(t.suggest_int("x", 0, 20) - 13) ** 2, n_trials=40)
    >>> study.best_params["x"]
    13
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

STRATEGIES = ("random", "evolution", "nsga2")

PARENT_ATTR = "evolution:parent"


def _inside(dist, value) -> bool:
    try:
        return dist._contains(dist.to_internal_repr(value))
    except ValueError:
        return False


def _fitness(trial):
    """A finished trial's value: its objective value, or a pruned trial's last reported one."""
    if trial.state == TrialState.COMPLETE:
        return trial.value
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


class _Draft:
    """Stands in for an Optuna trial while a sampler drafts a whole architecture in memory."""

    def __init__(self, propose):
        self.params, self._propose = {}, propose

    def suggest_int(self, name, low, high):
        self.params[name] = int(self._propose(name, IntDistribution(low, high)))
        return self.params[name]

    def suggest_categorical(self, name, choices):
        self.params[name] = self._propose(name, CategoricalDistribution(choices))
        return self.params[name]


class RegularizedEvolutionSampler(optuna.samplers.BaseSampler):
    """Aging evolution (Real et al. 2019) for single-objective studies; see the module docstring.

    Args:
        population_size: P, the number of most recent finished trials that form the population
            (the paper uses 100 for thousands of trials; small budgets need small P).
        sample_size: S, the tournament size (2 ≤ S ≤ P).
        seed: seed of the sampler's random choices.
        space: a :class:`~kerasnets.nas.space.SearchSpace`: draft each child as a whole
            architecture (``space.sample`` on a stand-in trial) before the trial asks for it.
        feasible: with ``space``, a predicate on the drafted architecture; drafts that fail it
            are redrawn (up to ``max_drafts`` times), e.g. a MAC limit.
        max_drafts: most drafts per trial; the last one is used if none is feasible.

    Example:
        >>> RegularizedEvolutionSampler(population_size=2, sample_size=3)
        Traceback (most recent call last):
        ...
        ValueError: sample_size must be an integer in [1, population_size=2], got 3
    """

    def __init__(
        self,
        population_size: int = 10,
        sample_size: int = 3,
        seed: int | None = None,
        space=None,
        feasible=None,
        max_drafts: int = 1000,
    ):
        if isinstance(population_size, bool) or not isinstance(population_size, int):
            raise ValueError(f"population_size must be a positive integer, got {population_size!r}")
        if population_size < 1:
            raise ValueError(f"population_size must be a positive integer, got {population_size!r}")
        if (
            isinstance(sample_size, bool)
            or not isinstance(sample_size, int)
            or not 1 <= sample_size <= population_size
        ):
            raise ValueError(
                f"sample_size must be an integer in [1, population_size={population_size}], "
                f"got {sample_size!r}"
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self._rng = np.random.RandomState(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._plans: dict[int, tuple[dict, str | None]] = {}
        self.space, self.feasible, self.max_drafts = space, feasible, max_drafts

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def _parent(self, study):
        finished = [
            (t, _fitness(t))
            for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
            )
        ]
        finished = [(t, v) for t, v in finished if v is not None]
        if len(finished) < self.population_size:
            return None
        population = sorted(finished, key=lambda tv: tv[0].number)[-self.population_size :]
        picks = self._rng.choice(len(population), self.sample_size, replace=False)
        sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1

        def rank(i):
            trial, value = population[i]
            return sign * value, -trial.user_attrs.get("macs", 0)

        return population[max(picks, key=rank)][0]

    def before_trial(self, study, trial) -> None:
        self._raise_error_if_multi_objective(study)
        parent = self._parent(study)
        if parent is not None:
            study._storage.set_trial_system_attr(trial._trial_id, PARENT_ATTR, parent.number)
        if self.space is None:  # mutate parameter by parameter as the trial asks for them
            if parent is not None:
                mutated = str(self._rng.choice(sorted(parent.params)))
                self._plans[trial.number] = (dict(parent.params), mutated)
            return
        # Draft whole architectures in memory until one is feasible and new to the study:
        # rejected drafts cost microseconds and never reach the study.
        seen = [t.params for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        for _ in range(self.max_drafts):
            mutated = None if parent is None else str(self._rng.choice(sorted(parent.params)))
            draft = _Draft(lambda name, dist, m=mutated: self._propose(parent, m, name, dist))
            arch = self.space.sample(draft)
            if (self.feasible is None or self.feasible(arch)) and draft.params not in seen:
                break
        self._plans[trial.number] = (draft.params, None)

    def _propose(self, parent, mutated, name, dist):
        if parent is not None and name in parent.params and _inside(dist, parent.params[name]):
            value = parent.params[name]
            return self._mutate(value, dist, None, None, name) if name == mutated else value
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[self._rng.randint(len(dist.choices))]
        return int(self._rng.randint(dist.low, dist.high + 1))

    def sample_independent(self, study, trial, param_name, param_distribution):
        plan = self._plans.get(trial.number)
        if plan is None or param_name not in plan[0]:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        params, mutated = plan
        value = params[param_name]
        if mutated is None and _inside(param_distribution, value):
            return value
        if not _inside(param_distribution, value):
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        if param_name == mutated:
            return self._mutate(value, param_distribution, study, trial, param_name)
        return value

    def _mutate(self, value, dist, study, trial, name):
        if isinstance(dist, CategoricalDistribution):
            others = [c for c in dist.choices if c != value]
            return value if not others else others[self._rng.randint(len(others))]
        if isinstance(dist, IntDistribution) and not dist.log:
            steps = [
                v for v in (value - dist.step, value + dist.step) if dist.low <= v <= dist.high
            ]
            return value if not steps else steps[self._rng.randint(len(steps))]
        return self._random.sample_independent(study, trial, name, dist)

    def after_trial(self, study, trial, state, values) -> None:
        self._plans.pop(trial.number, None)


def make_sampler(
    strategy: str,
    seed: int | None = None,
    population_size: int | None = None,
    space=None,
    feasible=None,
):
    """The Optuna sampler of ``strategy`` (one of :data:`STRATEGIES`).

    ``population_size`` defaults to 10 for evolution and 8 for NSGA-II (small budgets). With
    ``space`` and ``feasible`` (single objective), random search and evolution redraw candidates
    that fail ``feasible`` before they reach the study (random search is then the evolution
    sampler whose population never fills).

    Example:
        >>> type(make_sampler("nsga2", seed=0)).__name__
        'NSGAIISampler'
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
    if strategy == "random":
        if feasible is None:
            return optuna.samplers.RandomSampler(seed=seed)
        return RegularizedEvolutionSampler(2**62, 1, seed=seed, space=space, feasible=feasible)
    if strategy == "evolution":
        size = population_size or 10
        # Tournament of a third of the population (at least 2): Real et al. use 25 of 100; a
        # tournament as large as a small population always picks its best, and the search
        # then stays around one architecture.
        return RegularizedEvolutionSampler(
            size, min(size, max(2, size // 3)), seed=seed, space=space, feasible=feasible
        )
    return optuna.samplers.NSGAIISampler(population_size=population_size or 8, seed=seed)
