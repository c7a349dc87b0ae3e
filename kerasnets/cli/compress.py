"""``kerasnets compress``: prune, cluster, factorize or quantize a saved model.

    kerasnets compress model.keras --prune 0.8 --cluster 16 --out small.keras [--json]

One library call, :func:`kerasnets.compression.compress`: each requested technique in the
order filters → low-rank → prune → cluster → quantize, fine-tuning on ``--data`` (default the
embedded digits) after each step that changes weights; then the compressed model (plain
built-in layers) is written atomically to ``--out``, and a before/after table (or JSON with
``--json``) of parameters, MACs, sparsity, unique values, bytes and gzip bytes is printed.
"""

from __future__ import annotations

import os

ORDER = 40


def register(subparsers):
    p = subparsers.add_parser(
        "compress",
        help="prune / cluster / factorize / quantize a .keras model, with a size report",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model", help="input model file (.keras)")
    p.add_argument("--out", required=True, help="output model file (.keras)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--prune", type=float, metavar="S", help="magnitude pruning to sparsity S")
    p.add_argument(
        "--structure",
        default="unstructured",
        help="pruning structure: unstructured (default), M:N such as 2:4, or filters",
    )
    p.add_argument(
        "--filters", type=float, metavar="S", help="remove fraction S of filters/units for real"
    )
    p.add_argument("--cluster", type=int, metavar="K", help="k-means weight clustering, K values")
    p.add_argument("--rank", type=int, help="low-rank factorization of Dense/Conv2D at this rank")
    p.add_argument("--energy", type=float, help="low-rank keeping this singular-value energy")
    p.add_argument("--quantize", choices=("int8", "float16"), help="Keras 3 weight quantization")
    p.add_argument("--data", default="digits", help="data set for fine-tuning (default digits)")
    p.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs per step (default 2)")
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

    if not args.model.endswith(".keras") or not args.out.endswith(".keras"):
        raise UsageError("MODEL and --out must be .keras files")
    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"model file {args.model!r} does not exist")
    if os.path.exists(args.out) and not args.force:
        raise UsageError(f"{args.out!r} exists; pass --force to overwrite it")

    import keras

    from kerasnets import compression
    from kerasnets.io import save_model

    model = keras.models.load_model(args.model)
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
