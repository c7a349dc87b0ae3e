"""The headline numbers of the three hands-on projects' default runs.

Runs ``activations``, ``resnet-vs-plain`` and ``efficient`` with their defaults (digits, 3
seeds) on the current backend — or reads finished run directories given with ``--from`` — and
prints:

- per activation: the learning rate its sweep chose, test accuracy ± std;
- plain vs ResNet: final training loss (last epoch, training mode) ± std, plain-34 / ResNet-34;
- efficient vs baseline: params and MACs ratios, LiteRT batch-1 latency ratios (float32 and
  int8, timed interleaved in the run's ``final.json``), accuracy difference in points.

Usage::

    python benchmarks/experiments.py                       # runs all three (minutes)
    python benchmarks/experiments.py --from runs/activations-... runs/efficient-...
    python benchmarks/experiments.py --only efficient --dataset shapes --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _load(run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    out = {
        "name": config["experiment"],
        "config": config,
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "run_dir": str(run_dir),
    }
    if (run_dir / "final.json").is_file():
        out["final"] = json.loads((run_dir / "final.json").read_text())
    return out


def headline(run: dict) -> dict:
    """The numbers the README quotes, from one run's summary (and final.json)."""
    name, s = run["name"], run["summary"]
    if name == "activations":
        return {
            v: {
                "learning_rate": a["learning_rate"]["mean"],
                "test_accuracy": a["test_accuracy"]["mean"],
                "std": a["test_accuracy"]["std"],
            }
            for v, a in s.items()
        }
    if name == "resnet-vs-plain":
        out = {
            v: {
                "final_train_loss": a["final_train_loss"]["mean"],
                "std": a["final_train_loss"]["std"],
            }
            for v, a in s.items()
        }
        if "plain-34" in s and "resnet-34" in s:
            out["plain34_over_resnet34"] = (
                s["plain-34"]["final_train_loss"]["mean"]
                / s["resnet-34"]["final_train_loss"]["mean"]
            )
        return out
    lat = run.get("final", {}).get("latency_ms", {})
    base = s["baseline"]
    out = {}
    for v, a in s.items():
        row = {
            "params": a["params"]["mean"],
            "params_ratio": a["params"]["mean"] / base["params"]["mean"],
            "macs_ratio": a["macs"]["mean"] / base["macs"]["mean"],
            "accuracy": a["forms"]["keras"]["accuracy"]["mean"],
            "accuracy_std": a["forms"]["keras"]["accuracy"]["std"],
            "accuracy_points_vs_baseline": 100
            * (
                a["forms"]["keras"]["accuracy"]["mean"] - base["forms"]["keras"]["accuracy"]["mean"]
            ),
            "int8_accuracy": a["forms"]["int8"]["accuracy"]["mean"],
        }
        for form in ("keras", "float32", "int8"):
            if v in lat and "baseline" in lat:
                row[f"{form}_latency_ms"] = lat[v][form]
                row[f"{form}_latency_ratio"] = lat[v][form] / lat["baseline"][form]
        out[v] = row
    return out


def render(name: str, numbers: dict) -> str:
    lines = [f"== {name}"]
    if name == "activations":
        for v, r in numbers.items():
            lines.append(
                f"  {v:<12} lr {r['learning_rate']:<6g} test accuracy "
                f"{r['test_accuracy']:.3f} ± {r['std']:.3f}"
            )
    elif name == "resnet-vs-plain":
        for v, r in numbers.items():
            if isinstance(r, dict):
                lines.append(
                    f"  {v:<22} final train loss {r['final_train_loss']:.3g} ± {r['std']:.2g}"
                )
        if "plain34_over_resnet34" in numbers:
            lines.append(
                f"  plain-34 / ResNet-34 train loss: {numbers['plain34_over_resnet34']:.3g}×"
            )
    else:
        for v, r in numbers.items():
            lat = ", ".join(
                f"{f} {r[f + '_latency_ms']:.3f} ms ({r[f + '_latency_ratio']:.2f}×)"
                for f in ("float32", "int8", "keras")
                if f + "_latency_ms" in r
            )
            lines.append(
                f"  {v:<16} params {r['params']:>9,.0f} ({r['params_ratio']:.3f}×), MACs "
                f"{r['macs_ratio']:.3f}×, accuracy {r['accuracy']:.3f} ± {r['accuracy_std']:.3f} "
                f"({r['accuracy_points_vs_baseline']:+.1f} points), int8 {r['int8_accuracy']:.3f}; "
                f"batch-1 latency {lat}"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="runs", nargs="+", help="finished run directories")
    parser.add_argument("--only", nargs="+", help="experiments to run (default: all three)")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = []
    if args.runs:
        runs = [_load(Path(r)) for r in args.runs]
    else:
        import keras

        from kerasnets.experiments import available, run_experiment

        print(
            f"backend {keras.backend.backend()}, os.cpu_count() {os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
        )
        for name in args.only or available():
            start = time.time()
            info = run_experiment(name, args.dataset, seeds=args.seeds)
            print(f"{name}: {time.time() - start:.0f} s", file=sys.stderr)
            runs.append(_load(Path(info["run_dir"])))
    result = {r["name"]: headline(r) for r in runs}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, numbers in result.items():
            print(render(name, numbers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
