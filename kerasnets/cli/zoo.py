"""``kerasnets models`` and ``kerasnets summary``: the model zoo and what each model costs.

``kerasnets models`` lists every name :func:`kerasnets.models.build` accepts.
``kerasnets summary NAME`` builds one (or loads a ``.keras`` file) and prints the per-layer
table of :func:`kerasnets.analysis.profile` — parameters, MACs per example, output activation
memory — and with ``--latency`` the median CPU inference time at batch 1 and a larger batch.

Example (shell):
    kerasnets models
    kerasnets summary efficient_cnn --input-shape 32,32,3 --classes 10 --latency
    kerasnets summary resnet50 --json > resnet50.json
"""

from __future__ import annotations

import re
import sys

ORDER = 20


def register(sub):
    p = sub.add_parser("models", help="list the model zoo: name, family, description")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=models_command)

    p = sub.add_parser(
        "summary",
        help="per-layer parameters, MACs and activation memory of a zoo model or .keras file",
    )
    p.add_argument("name", metavar="NAME", help="a name from `kerasnets models`, or a .keras file")
    p.add_argument(
        "--input-shape",
        metavar="H,W,C",
        help="input shape without the batch axis, e.g. 32,32,3 (default: the model's)",
    )
    p.add_argument("--classes", metavar="N", help="number of classes (default: the model's)")
    p.add_argument(
        "--batch-size",
        default="1",
        metavar="B",
        help="batch size for the activation memory (1); MACs are always per example",
    )
    p.add_argument(
        "--latency",
        action="store_true",
        help="also time CPU inference (median of repeated predict_on_batch after warm-up)",
    )
    p.add_argument(
        "--latency-batch",
        default="32",
        metavar="B",
        help="the larger batch size timed with --latency (32); batch 1 is always timed",
    )
    p.add_argument("--repeats", default="10", metavar="R", help="timed calls per batch (10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=summary_command)


# --- argument parsing (in the handler, so errors are one line and exit 2) ----------------------


def parse_shape(text: str) -> tuple[int, ...]:
    """``"32,32,3"`` → ``(32, 32, 3)``; anything else is a ValueError naming the value."""
    parts = [p.strip() for p in str(text).strip("()[] ").split(",") if p.strip()]
    if not parts or not all(re.fullmatch(r"\d+", p) and int(p) > 0 for p in parts):
        raise ValueError(
            f"--input-shape must be comma-separated positive integers such as 32,32,3, got {text!r}"
        )
    return tuple(int(p) for p in parts)


def parse_positive_int(text, option: str) -> int:
    """``text`` as an integer >= 1, or a ValueError naming ``option`` and the value."""
    try:
        value = int(str(text))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{option} must be a positive integer, got {text!r}")
    return value


def family(name: str) -> str:
    """The architecture family of zoo model ``name`` (``"resnet"`` for ``"resnet50"``).

    Uses ``kerasnets.models.family`` where the zoo provides it, else the name's leading word
    (``"cnn"`` for ``*_cnn``).
    """
    from kerasnets import models

    if hasattr(models, "family"):
        return models.family(name)
    if name.endswith("_cnn"):
        return "cnn"
    return re.match(r"[a-z]+", name).group(0) if re.match(r"[a-z]+", name) else name


def zoo_entries() -> list[dict]:
    """One dict per zoo model: name, family, description, default options."""
    from kerasnets import models

    return [
        {
            "name": name,
            "family": family(name),
            "description": models.describe(name),
            "defaults": models.defaults(name) if hasattr(models, "defaults") else {},
        }
        for name in models.available()
    ]


# --- commands ----------------------------------------------------------------------------------


def models_command(args) -> int:
    from kerasnets.cli import print_json

    entries = zoo_entries()
    if args.json:
        print_json(entries)
        return 0
    width = max(len(e["name"]) for e in entries)
    fam = max(len(e["family"]) for e in entries)
    print(f"{'NAME'.ljust(width)}  {'FAMILY'.ljust(fam)}  DESCRIPTION")
    for e in entries:
        print(f"{e['name'].ljust(width)}  {e['family'].ljust(fam)}  {e['description']}")
    print(f"\n{len(entries)} models; `kerasnets summary NAME` shows one layer by layer.")
    return 0


def _load_model(args):
    """Build zoo model ``args.name`` (or load a .keras file) after validating every option."""
    from pathlib import Path

    options = {}
    if args.input_shape is not None:
        options["input_shape"] = parse_shape(args.input_shape)
    if args.classes is not None:
        options["num_classes"] = parse_positive_int(args.classes, "--classes")

    if args.name.endswith(".keras"):
        path = Path(args.name)
        if options:
            raise ValueError("--input-shape and --classes apply to zoo names, not .keras files")
        from kerasnets.io import load_model

        return load_model(path)

    from kerasnets import models

    if args.name not in models.available():
        raise ValueError(f"unknown model {args.name!r}; available: {', '.join(models.available())}")
    return models.build(args.name, **options)


def summary_command(args) -> int:
    batch_size = parse_positive_int(args.batch_size, "--batch-size")
    latency_batch = parse_positive_int(args.latency_batch, "--latency-batch")
    repeats = parse_positive_int(args.repeats, "--repeats")
    model = _load_model(args)

    from kerasnets import analysis
    from kerasnets.cli import print_json

    result = analysis.profile(model, batch_size=batch_size)
    timings = None
    if args.latency:
        sizes = sorted({1, latency_batch})
        timings = analysis.latency(model, batch_sizes=sizes, warmup=3, repeats=repeats)

    if args.json:
        data = {"model": args.name, "input_shape": list(model.inputs[0].shape[1:])}
        if not args.name.endswith(".keras"):
            from kerasnets import models

            data["input_sizes"] = models.input_sizes(args.name)
        data.update(result.to_dict())
        if timings is not None:
            data["latency"] = [{"batch_size": b, **stats} for b, stats in timings.items()]
        print_json(data)
        return 0

    if not args.name.endswith(".keras"):
        from kerasnets import models

        stem = "imagenet" if any(layer.name == "pool1_pool" for layer in model.layers) else None
        shape = "x".join(str(d) for d in model.inputs[0].shape[1:])
        used = f" (stem {stem or 'cifar'!r})" if models.input_sizes(args.name)[0] == "i" else ""
        print(f"Input {shape}{used}; {args.name} takes {models.input_sizes(args.name)}.")
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(result.to_rich())
    else:
        print(result.to_text())
    if timings is not None:
        for b, stats in timings.items():
            print(
                f"Latency at batch {b} ({result.backend}): median {stats['median_ms']:.2f} ms"
                f" ({stats['per_example_ms']:.3f} ms per example; min {stats['min_ms']:.2f},"
                f" max {stats['max_ms']:.2f}, {stats['repeats']} timed calls after"
                f" {stats['warmup']} warm-up)"
            )
    return 0
