"""``kerasnets compare-backends``: one model on TensorFlow, JAX and PyTorch side by side.

Builds the model once, then runs each backend in its own process on the same weights and data:
forward, gradient and training parity, first-call and steady-state step times, peak memory,
LiteRT export and ``.keras`` portability, and the initial weights the same seed gives on each
backend (see :mod:`kerasnets.compare`).

Example (shell):
    kerasnets compare-backends mlp --input-shape 64 --classes 10
    kerasnets compare-backends resnet18 --input-shape 32,32,3 --out runs/compare-resnet18
    kerasnets compare-backends model.keras --backends jax,torch --no-deploy --json
"""

from __future__ import annotations

import sys

from kerasnets.cli import int_at_least

ORDER = 45


def register(sub):
    p = sub.add_parser(
        "compare-backends",
        help="run one model on TensorFlow, JAX and PyTorch from the same weights: parity, "
        "speed, memory, deployment",
    )
    p.add_argument(
        "model", metavar="MODEL", help="a name from `kerasnets models`, or a .keras file"
    )
    p.add_argument(
        "--input-shape", metavar="H,W,C", help="input shape without the batch axis (zoo models)"
    )
    p.add_argument("--classes", type=int_at_least(2), metavar="N", help="number of classes")
    p.add_argument(
        "--backends",
        default="tensorflow,jax,torch",
        metavar="LIST",
        help="comma-separated backends; the first that runs is the reference "
        "(tensorflow,jax,torch)",
    )
    p.add_argument("--batch", type=int_at_least(1), default=8, metavar="B", help="batch size (8)")
    p.add_argument(
        "--steps", type=int_at_least(1), default=3, metavar="S", help="SGD steps compared (3)"
    )
    p.add_argument(
        "--repeats",
        type=int_at_least(1),
        default=5,
        metavar="R",
        help="alternated train-step / inference calls timed per backend (5)",
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of data and init (0)")
    p.add_argument(
        "--threads",
        type=int_at_least(1),
        metavar="N",
        help="pin each backend's process to N CPUs (default: each backend's own default)",
    )
    p.add_argument(
        "--no-deploy",
        action="store_true",
        help="skip the LiteRT export and .keras portability checks (they start extra processes)",
    )
    p.add_argument("--out", metavar="DIR", help="write report.md, results.json and the figure")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=compare_backends_command)


def compare_backends_command(args) -> int:
    from kerasnets.cli.zoo import parse_shape

    shape = parse_shape(args.input_shape) if args.input_shape is not None else None
    from kerasnets import compare

    result = compare.compare_backends(
        args.model,
        input_shape=shape,
        num_classes=args.classes,
        backends=args.backends,
        batch=args.batch,
        steps=args.steps,
        repeats=args.repeats,
        seed=args.seed,
        threads=args.threads,
        deploy=not args.no_deploy,
        out=args.out,
        force=args.force,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    if args.json:
        from kerasnets.cli import print_json

        print_json(result)
        return 0
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(compare.rich_table(result))
    else:
        print(compare.setup_line(result))
        print(compare.table(result))
    if args.out is not None:
        print(f"\nreport, results and figure written to {args.out}/")
    return 0
