"""``kerasnets run NAME``: one of the lecture's hands-on projects as a reproducible experiment.

Calls :func:`kerasnets.experiments.run_experiment` and prints where the report is, with the
main result per variant (mean ± std over seeds).
"""

from __future__ import annotations

import sys

ORDER = 40


def register(sub):
    p = sub.add_parser(
        "run",
        help="run a hands-on project (activations, resnet-vs-plain, efficient) with seeds, "
        "error bars, figures and a report",
        description="Run one of the lecture's hands-on projects: every variant with every seed, "
        "into runs/<name>-<time>/ (config.json, seed-<k>/results.json, PNG figures, report.md). "
        "A killed run continues with --resume --out DIR. KERASNETS_FAST=1 or --fast shrinks "
        "data and epochs.",
    )
    p.add_argument("name", metavar="NAME", help="activations, resnet-vs-plain or efficient")
    p.add_argument(
        "--dataset",
        default="digits",
        help="digits (default, embedded), shapes, "
        "mnist, fashion_mnist, cifar10 (the last three from the Keras cache)",
    )
    p.add_argument("--seeds", type=int, default=3, help="number of seeds per variant (3)")
    p.add_argument(
        "--epochs", type=int, default=None, help="training epochs (default: the experiment's)"
    )
    p.add_argument(
        "--variants", default=None, help="comma-separated subset of the variants (default: all)"
    )
    p.add_argument("--out", default=None, help="run directory (default runs/<name>-<time>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out; finished seeds/variants are not recomputed",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="shrink data and epochs (also KERASNETS_FAST=1): checks that it runs",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress output (default: one line per unit)"
    )
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from kerasnets.cli import print_json
    from kerasnets.experiments import run_experiment

    result = run_experiment(
        args.name,
        dataset=args.dataset,
        seeds=args.seeds,
        epochs=args.epochs,
        out=args.out,
        resume=args.resume,
        fast=args.fast or None,
        verbose=0 if (args.quiet or args.json) else 1,
        variants=args.variants,
    )
    if args.json:
        print_json(result)
        return 0
    print(f"report: {result['report']}")
    print(f"figures: {', '.join(result['figures'])}")
    for line in headlines(args.name, result["summary"]):
        print(line, file=sys.stdout)
    return 0


def headlines(name, summary) -> list[str]:
    """One line per variant: its main result, mean ± std over seeds."""
    lines = []
    for variant, agg in summary.items():
        acc = agg["forms"]["keras"]["accuracy"] if name == "efficient" else agg["test_accuracy"]
        std = f" ± {acc['std']:.3f}" if acc["n"] > 1 else ""
        extra = ""
        if name == "activations":
            extra = f" (learning rate {agg['learning_rate']['mean']:g})"
        elif name == "resnet-vs-plain":
            extra = f", train loss {agg['final_train_loss']['mean']:.3g}"
        elif name == "efficient":
            int8 = agg["forms"]["int8"]["accuracy"]["mean"]
            extra = f" (int8 {int8:.3f}), {agg['params']['mean']:,.0f} params"
        lines.append(f"  {variant:<24} test accuracy {acc['mean']:.3f}{std}{extra}")
    return lines
