"""``kerasnets doctor``: the four debugging checks on a saved model, with findings and remedies.

    kerasnets doctor model.keras [--data NAME] [--json]

One library call, :func:`kerasnets.debug.doctor` (gradient check, overfit test, LR finder,
initialization report) on a model loaded with :func:`kerasnets.io.load_model` and data from
``--data`` (default the embedded digits) shaped to its input.
"""

from __future__ import annotations

ORDER = 62


def register(sub):
    p = sub.add_parser(
        "doctor",
        help="gradient check, overfit test, LR finder and init report for a .keras model",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model", help="model file (.keras)")
    p.add_argument("--data", default="digits", help="data set (default digits)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=run)


def run(args):
    from kerasnets import data, debug, io
    from kerasnets.cli import UsageError, print_json

    if args.data not in data.DATASETS:
        raise UsageError(f"unknown data set {args.data!r}; available: {', '.join(data.DATASETS)}")
    io.check_model_file(args.model)
    model = io.load_model(args.model)
    shaped = data.for_model(args.data, model, subset=512)
    x, y = shaped.x, shaped.y
    report = debug.doctor(model, x, y)
    if args.json:
        print_json(report)
        return 0
    print(f"doctor: {report['model']} on {args.data}")
    for f in report["findings"]:
        mark = "ok  " if f["ok"] else "FIX "
        print(f"{mark} {f['check']:<15} {f['finding']}")
        if f["remedy"]:
            print(f"{'':<21}→ {f['remedy']}")
    return 0
