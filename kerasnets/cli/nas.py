"""``kerasnets nas``: neural architecture search on Optuna (project 4).

``kerasnets nas [search] --strategy evolution --trials 40 --out DIR`` runs a search with its
report (:func:`kerasnets.nas.search`); ``kerasnets nas worker --storage URL --study NAME`` joins a
shared study (:func:`kerasnets.nas.work`); ``kerasnets nas report --storage URL --study NAME
--out DIR`` writes the report from the database (:func:`kerasnets.nas.write_study_report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kerasnets.cli import UsageError, int_at_least

ORDER = 45
ACTIONS = ("search", "worker", "report")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _max_macs(text):
    if text in ("baseline", "baseline/2", "none"):
        return None if text == "none" else text
    return _positive_float(text)


def register(sub):
    p = sub.add_parser(
        "nas",
        help="neural architecture search (random, regularized evolution, NSGA-II) on Optuna, "
        "SQLite or PostgreSQL",
        description="Search the lecture's space (conv 3×3/5×5, depthwise-separable, residual; "
        "5-15 layers; 32-256 channels; where to downsample) with an Optuna study. "
        "ACTION search (default) runs trials and writes the report into --out (Pareto front with "
        "the hand-designed baselines, top 5, patterns, cost, best.keras and best_int8.tflite); "
        "worker joins a shared study (--storage URL --study NAME) until its budget is used; "
        "report writes the report from the database. Watch a study live with "
        "`optuna-dashboard URL`.",
    )
    p.add_argument(
        "action",
        nargs="?",
        default="search",
        choices=ACTIONS,
        metavar="ACTION",
        help="search (default), worker or report",
    )
    p.add_argument(
        "--strategy",
        default="evolution",
        choices=("random", "evolution", "nsga2"),
        help="search strategy (default evolution)",
    )
    p.add_argument(
        "--trials",
        type=int_at_least(1),
        default=40,
        help="budget of finished trials of the study (default 40)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        help="minutes after which no new trial starts (search default 8, so that a default "
        "search with its baselines and export ends within 15 minutes; worker default: none)",
    )
    p.add_argument(
        "--epochs",
        type=int_at_least(1),
        default=None,
        help="training epochs per trial (default 5; 1 with --fast)",
    )
    p.add_argument("--dataset", default="digits", help="image dataset (default digits, 8×8)")
    p.add_argument(
        "--space",
        default=None,
        help="search space as JSON text or a .json file (fields: layer_types, "
        "min_layers, max_layers, channels, max_downsamples)",
    )
    p.add_argument(
        "--objectives",
        default=None,
        help="accuracy (random, evolution; default) or accuracy,macs / "
        "accuracy,params (nsga2 default accuracy,macs)",
    )
    p.add_argument(
        "--max-macs",
        type=_max_macs,
        default="baseline/2",
        help="single objective: skip architectures with more MACs than this before training; "
        "'baseline/2' (default): half of baseline_cnn's MACs on the same images, 'baseline': "
        "all of them, 'none': no limit",
    )
    p.add_argument(
        "--subset",
        type=int_at_least(20),
        default=None,
        help="training samples to use (default all)",
    )
    p.add_argument("--batch-size", type=int_at_least(1), default=32)
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler (default 0)")
    p.add_argument("--out", default=None, help="run / report directory (default runs/nas-<time>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --out: interrupted trials are retried",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--storage",
        default=None,
        help="SQLAlchemy URL of a shared study, e.g. postgresql://user@host/db "
        "(default: SQLite in --out)",
    )
    p.add_argument("--study", default=None, help="study name in --storage (default nas)")
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="do not train baseline_cnn, efficient_cnn, MobileNet-style for comparison",
    )
    p.add_argument(
        "--no-export",
        action="store_true",
        help="do not retrain and save the best as .keras and int8 .tflite",
    )
    p.add_argument(
        "--grace-period",
        type=int_at_least(2),
        default=60,
        help="seconds without heartbeat after which a trial counts as dead (60)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="tiny space, 1 epoch, 200 samples (also KERASNETS_FAST=1)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _space(text):
    if text is None:
        return None
    from kerasnets.nas import SearchSpace

    path = Path(text)
    if not text.strip().startswith("{"):
        if not path.is_file():
            raise UsageError(f"--space {text!r} is neither JSON text nor an existing .json file")
        text = path.read_text()
    try:
        return SearchSpace.from_json(text)
    except TypeError as err:
        raise UsageError(f"--space: {err}") from None


def _print_summary(summary):
    from kerasnets.analysis import human

    c = summary["cost"]
    print(
        f"study {summary['study']!r}: {c['trials_finished']} finished trials "
        f"({c['trials_complete']} complete, {c['trials_pruned']} pruned, "
        f"{c['trials_failed']} failed)"
    )
    for r in summary["top5"]:
        print(
            f"  trial {r['number']:>3}  acc {r['accuracy']:.3f}  MACs {human(r['macs']):>7}  "
            f"params {human(r['params']):>7}  {r['layers']}"
        )
    for name, b in summary.get("baselines", {}).items():
        print(f"  {name:<16} acc {b['accuracy']:.3f}  MACs {human(b['macs']):>7}")
    if summary.get("dominating_baseline_cnn") is not None:
        print(f"trials dominating baseline_cnn: {len(summary['dominating_baseline_cnn'])}")
    if summary.get("report"):
        print(f"report: {summary['report']}")


def run(args) -> int:
    from kerasnets import nas
    from kerasnets.cli import print_json

    verbose = 0 if (args.quiet or args.json) else 1
    if args.action == "worker":
        if not args.storage or not args.study:
            raise UsageError("nas worker needs --storage URL and --study NAME")
        ran = nas.work(
            args.storage,
            args.study,
            timeout=None if args.timeout is None else args.timeout * 60,
            verbose=verbose,
            grace_period=args.grace_period,
        )
        if args.json:
            print_json({"trials_run": ran})
        else:
            print(f"worker ran {ran} trial(s)")
        return 0
    if args.action == "report":
        if args.out is None:
            raise UsageError("nas report needs --out DIR")
        summary = nas.write_study_report(args.storage, args.study or "nas", args.out)
    else:
        if args.resume and args.out is None:
            raise UsageError("--resume needs --out DIR (the run to continue)")
        summary = nas.search(
            strategy=args.strategy,
            trials=args.trials,
            timeout=(8.0 if args.timeout is None else args.timeout) * 60,
            epochs=args.epochs,
            dataset=args.dataset,
            space=_space(args.space),
            objectives=args.objectives,
            max_macs=args.max_macs,
            subset=args.subset,
            batch_size=args.batch_size,
            seed=args.seed,
            out=args.out,
            resume=args.resume,
            force=args.force,
            storage=args.storage,
            study_name=args.study,
            baselines=not args.no_baselines,
            export=not args.no_export,
            fast=args.fast or None,
            verbose=verbose,
            grace_period=args.grace_period,
        )
    if args.json:
        print_json(
            {k: v for k, v in summary.items() if k != "trials"} | {"trials": len(summary["trials"])}
        )
    else:
        _print_summary(summary)
    return 0
