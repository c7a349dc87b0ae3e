"""``kerasnets compress``: prune, cluster, factorize or quantize a saved model.

    kerasnets compress model.keras --prune 0.8 --cluster 16 --out small.keras [--json]

One library call, :func:`kerasnets.compression.compress`: each requested technique in the
order filters → low-rank → prune → cluster → quantize, fine-tuning on ``--data`` (default the
embedded digits) after each step that changes weights; then the compressed model (plain
built-in layers) is written atomically to ``--out``, and a before/after table (or JSON with
``--json``) of parameters, MACs, sparsity, unique values, bytes and gzip bytes is printed.
"""

from __future__ import annotations

import argparse

from kerasnets.cli import int_at_least

ORDER = 40


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def _energy(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected an energy in (0, 1], got {text!r}")
    return value


def register(subparsers):
    p = subparsers.add_parser(
        "compress",
        help="prune / cluster / factorize / quantize a .keras model, with a size report",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model", help="input model file (.keras)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--prune", type=_fraction, metavar="S", help="magnitude pruning to sparsity S")
    p.add_argument(
        "--structure",
        default="unstructured",
        help="pruning structure: unstructured (default), M:N such as 2:4, or filters",
    )
    p.add_argument(
        "--filters", type=_fraction, metavar="S", help="remove fraction S of filters/units for real"
    )
    p.add_argument(
        "--cluster", type=int_at_least(2), metavar="K", help="k-means weight clustering, K values"
    )
    p.add_argument(
        "--rank", type=int_at_least(1), help="low-rank factorization of Dense/Conv2D at this rank"
    )
    p.add_argument("--energy", type=_energy, help="low-rank keeping this singular-value energy")
    p.add_argument("--quantize", choices=("int8", "float16"), help="Keras 3 weight quantization")
    p.add_argument("--data", default="digits", help="data set for fine-tuning (default digits)")
    p.add_argument(
        "--epochs", type=int_at_least(0), default=2, help="fine-tuning epochs per step (default 2)"
    )
    p.add_argument(
        "--exclude",
        action="append",
        metavar="REGEX",
        help="layer names (regex, full match) to leave alone; repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _table(result):
    rows = [
        ("params", result.before.params, result.after.params),
        ("MACs", result.before.macs, result.after.macs),
        ("kernel sparsity", f"{result.before.sparsity:.1%}", f"{result.after.sparsity:.1%}"),
        ("weight bytes", result.before.bytes, result.after.bytes),
        ("gzip bytes", result.before.gzip_bytes, result.after.gzip_bytes),
        ("accuracy", f"{result.accuracy_before:.4f}", f"{result.accuracy_after:.4f}"),
    ]
    lines = [f"{'':16}  {'before':>12}  {'after':>12}"]
    for name, a, b in rows:
        a = f"{a:,}" if isinstance(a, int) else str(a)
        b = f"{b:,}" if isinstance(b, int) else str(b)
        lines.append(f"{name:16}  {a:>12}  {b:>12}")
    return "\n".join(lines)


def run(args) -> int:
    from kerasnets.cli import UsageError, print_json
    from kerasnets.io import check_model_file, check_writable, load_model, save_model

    if not args.out.endswith(".keras"):
        raise UsageError(f"--out must name a .keras file, got {args.out!r}")
    if args.rank is not None and args.energy is not None:
        raise UsageError("give --rank or --energy, not both")
    if all(
        v is None
        for v in (args.prune, args.filters, args.cluster, args.rank, args.energy, args.quantize)
    ):
        raise UsageError(
            "nothing to do: give at least one of --prune, --filters, --cluster, --rank, "
            "--energy, --quantize"
        )
    check_model_file(args.model)
    check_writable(args.out, force=args.force, what="--out")
    from kerasnets import data

    if args.data not in data.DATASETS:
        raise UsageError(f"unknown --data {args.data!r}; available: {', '.join(data.DATASETS)}")

    import keras

    from kerasnets import compression

    model = load_model(args.model)
    result = compression.compress(
        model,
        prune=args.prune,
        structure=args.structure,
        filters=args.filters,
        cluster=args.cluster,
        rank=args.rank,
        energy=args.energy,
        quantize=args.quantize,
        data=args.data,
        epochs=args.epochs,
        exclude=args.exclude,
    )
    save_model(result.model, args.out)
    if args.json:
        print_json(dict(result.to_dict(), out=args.out, backend=keras.backend.backend()))
    else:
        print(_table(result))
        print(f"wrote {args.out}")
    return 0
