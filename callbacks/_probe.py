"""Reaching the layers of a Keras model: names, outputs on a probe batch, weight ownership.

Layer outputs are read through "probe models" built on the model's own graph,
``keras.Model(model.inputs, [layer.output, ...])``, which share the model's layers and weights.
A functional model nested inside another is reached in stages: the outer probe also returns the
tensors the nested model is called on, and a probe of the nested model's graph runs on them.
Layers inside a nested model are named ``"outer/inner"``.
"""

from __future__ import annotations

import weakref

import numpy as np

_PROBES = weakref.WeakKeyDictionary()  # model -> {(layer names, batch size): LayerOutputs}

# Layer classes whose output *is* an activation (their ``activation`` attribute aside).
_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU")
# Activations that are outputs (probabilities, scores), not hidden units.
_OUTPUT_ACTIVATIONS = ("linear", "softmax", "log_softmax")


def _graph(model):
    """The functional graph of ``model`` (a Sequential's inner graph), or None."""
    import keras

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and getattr(model, "inputs", None):
        return model
    return None


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", type(activation).__name__)


def is_activation_layer(layer) -> bool:
    """True for layers whose output is a hidden activation: an activation layer, or a layer
    with a nonlinear ``activation`` other than an output one (softmax)."""
    name = _activation_name(layer)
    if type(layer).__name__ in _ACTIVATION_LAYERS:
        return name not in _OUTPUT_ACTIVATIONS
    return name is not None and name not in _OUTPUT_ACTIVATIONS


class LayerTree:
    """The reachable layers of a model, by qualified name, in graph order.

    Raises ``ValueError`` for a model whose layer outputs cannot be reached (a subclassed model
    with a hand-written ``call``, or one that is not built yet).
    """

    def __init__(self, model):
        if not getattr(model, "built", False) or _graph(model) is None:
            kind = type(model).__name__
            raise ValueError(
                f"the layer outputs of model {model.name!r} ({kind}) cannot be reached: the "
                "monitors need a functional or Sequential model (or a subclass built with "
                "keras.Model(inputs, outputs)) that is built; a subclassed model with its own "
                "call() hides its layer outputs"
            )
        self.model = model
        self.layers = {}  # qualified name -> layer
        self.parent = {}  # qualified name -> (graph-owning model, qualified prefix)
        self._walk(model, "")

    def _walk(self, model, prefix):
        from kerasnets.graph import walk

        for name, layer, owner in walk(model, prefix):
            self.layers[name] = layer
            self.parent[name] = (owner, name[: len(name) - len(layer.name)])

    def resolve(self, names, default, what: str) -> list[str]:
        """Qualified names for ``names`` (qualified or unique bare names) or ``default(layer)``."""
        if names is None:
            chosen = [n for n, layer in self.layers.items() if default(layer)]
            if not chosen:
                raise ValueError(
                    f"model {self.model.name!r} has no layer to {what} by default; pass "
                    f"layers=[...] from {self._listing()}"
                )
            return chosen
        if isinstance(names, str):
            names = [names]
        chosen = []
        for name in names:
            if name in self.layers:
                chosen.append(name)
                continue
            matches = [q for q in self.layers if q.rsplit("/", 1)[-1] == name]
            if len(matches) != 1:
                problem = "does not exist" if not matches else f"is ambiguous ({matches})"
                raise ValueError(
                    f"layer {name!r} {problem} in model {self.model.name!r}; "
                    f"choose from {self._listing()}"
                )
            chosen.append(matches[0])
        if not chosen:
            raise ValueError(f"layers=[] selects nothing to {what}; pass None for the default")
        return list(dict.fromkeys(chosen))

    def _listing(self) -> str:
        names = list(self.layers)
        shown = ", ".join(repr(n) for n in names[:40])
        return f"[{shown}{', ...' if len(names) > 40 else ''}]"

    def weight_owners(self) -> dict[int, tuple[str, str]]:
        """``id(variable) -> (layer name, weight name)`` for every trainable weight."""
        owners = {}
        for name, layer in self.layers.items():
            for variable in layer.trainable_weights:
                owners.setdefault(id(variable), (name, variable.name))
        return owners


def _nodes_of(layer, graph):
    nodes = [n for depth in graph._nodes_by_depth.values() for n in depth]
    return [n for n in nodes if n.operation is layer]


def _input_structure(graph):
    inputs = getattr(graph, "_inputs_struct", None)
    if inputs is None:
        inputs = graph.inputs
    if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        return inputs[0]
    return inputs


class LayerOutputs:
    """Callable ``outputs(x) -> {name: np.ndarray}`` for the chosen layers of a model.

    Raises ``ValueError`` when a layer's output is ambiguous (a layer called more than once) or
    cannot be reached from the model's inputs.
    """

    def __init__(self, tree: LayerTree, names, batch_size: int = 256):
        self.names = list(names)
        self.batch_size = batch_size
        self._stage = self._plan(tree.model, "", set(self.names))

    @classmethod
    def reuse(cls, tree: LayerTree, names, batch_size: int = 256):
        """The probe for this model and these layers, built once per process and kept (weakly,
        with the model), so that its compiled predict function serves every monitor and every
        ``fit`` on that model."""
        key = (tuple(names), batch_size)
        try:
            cache = _PROBES.setdefault(tree.model, {})
        except TypeError:  # a model that cannot be weakly referenced: no caching
            return cls(tree, names, batch_size)
        if key not in cache:
            cache[key] = cls(tree, names, batch_size)
        return cache[key]

    def _plan(self, model, prefix, wanted):
        import keras

        graph = _graph(model)
        targets, leaves, children = [], [], []
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            name = prefix + layer.name
            nested = isinstance(layer, keras.Model) and _graph(layer) is not None
            inner = {w for w in wanted if w.startswith(name + "/")} if nested else set()
            if name not in wanted and not inner:
                continue
            nodes = _nodes_of(layer, graph)
            if len(nodes) != 1:
                raise ValueError(
                    f"layer {name!r} is called {len(nodes)} times in model {model.name!r}; "
                    "its output is ambiguous, so it cannot be monitored"
                )
            if nested:
                tensors = nodes[0].input_tensors
                children.append((len(targets), len(tensors), self._plan(layer, name + "/", inner)))
                targets.extend(tensors)
            else:
                leaves.append((len(targets), name))
                targets.extend(nodes[0].output_tensors[:1])
        try:
            probe = keras.Model(_input_structure(graph), targets, name=f"{model.name}_probe")
        except Exception as error:  # Keras raises several types for a disconnected graph
            raise ValueError(
                f"the outputs of the layers of model {model.name!r} cannot be reached from its "
                f"inputs: {error}"
            ) from error
        return probe, leaves, children

    def __call__(self, x) -> dict[str, np.ndarray]:
        import keras

        n = _length(x)
        chunks = []
        for start in range(0, n, self.batch_size):
            rows = slice(start, start + self.batch_size)
            part = keras.tree.map_structure(lambda a, rows=rows: a[rows], x)
            chunks.append(self._run(self._stage, part))
        return {name: np.concatenate([c[name] for c in chunks]) for name in self.names}

    def _run(self, stage, x):
        probe, leaves, children = stage
        values = probe.predict_on_batch(x)
        if not isinstance(values, (list, tuple)):
            values = [values]
        out = {name: np.asarray(values[i]) for i, name in leaves}
        for start, count, child in children:
            inputs = values[start] if count == 1 else list(values[start : start + count])
            out.update(self._run(child, inputs))
        return out


def _length(x) -> int:
    import keras

    lengths = {len(a) for a in keras.tree.flatten(x)}
    if len(lengths) != 1:
        raise ValueError(f"probe arrays have different numbers of samples: {sorted(lengths)}")
    return lengths.pop()


def prepare_probe(x, y=None, probe_size: int | None = None, seed: int = 0, owner: str = ""):
    """Validate probe data and return ``(x, y)`` as numpy, sampled to ``probe_size`` (seeded)."""
    import keras

    if x is None:
        raise ValueError(f"{owner} needs probe data x_probe (an array of input samples), got None")
    x = keras.tree.map_structure(np.asarray, x)
    n = _length(x)
    if n == 0:
        raise ValueError(f"{owner} got an empty probe set (0 samples); pass at least 1 sample")
    if y is not None:
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"{owner}: x_probe has {n} samples but y_probe has {len(y)}")
    if probe_size is not None:
        if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size must be a positive int or None, got {probe_size!r}")
        if probe_size < n:
            index = np.sort(np.random.default_rng(seed).choice(n, probe_size, replace=False))
            x = keras.tree.map_structure(lambda a: a[index], x)
            y = None if y is None else y[index]
    return x, y
