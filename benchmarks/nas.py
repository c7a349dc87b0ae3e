"""Neural architecture search: strategies, proxies, overhead and workers, measured in one run.

1. **Evolution vs random** at equal budget over several seeds (seeds interleaved: random s0,
   evolution s0, random s1, ...): best validation accuracy and hypervolume (accuracy × decades
   of MACs, one reference point for all runs) after the budget, mean ± std, and the curves
   against trials with ± std bands (``nas_strategies.png``). With one seed both draw the same
   random first population (a quarter of the budget), so the curves part where evolution's
   mutations begin. Goal: evolution ≥ random.
2. **Zero-cost proxies** on the random runs' trained candidates: NASWOT and gradient norm at a
   fresh initialization, Kendall τ with the trained accuracy, and the cost ratio median
   training time (completed trials) / median proxy time. Goal: ≥ 100× cheaper.
3. **Overhead per trial**: (trial wall time − training time) / trial wall time, i.e. Optuna's
   sampling and storage, building the model, counting MACs and compiling. Goal: ≤ 5 %.
4. **Two workers vs one** on one SQLite study (``kerasnets nas worker`` processes), throughput
   = finished trials / (last end − first start). Goal: ratio ≥ 1.5 on this 2-core machine.

The defaults train each candidate as a default search does (5 epochs on all digits), 24 trials
per search: about 20 minutes on 2 cores. A quick look at a tiny budget, where trained accuracy
is mostly noise (evolution then mutates around barely trained candidates) and the proxies are
compared with 2-epoch training:

    python benchmarks/nas.py --trials 8 --epochs 2 --subset 400 --out runs/bench-nas-tiny
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import kerasnets  # noqa: E402,F401  (before TensorFlow: keeps its C++ start-up lines off)


def _config(args, strategy, seed):
    from kerasnets.nas.study import make_config

    return make_config(
        strategy, trials=args.trials, epochs=args.epochs, subset=args.subset or None, seed=seed
    )


def run_study(args, strategy, seed, tmp):
    from kerasnets.nas import report
    from kerasnets.nas.study import _data, open_study, run_trials

    config = _config(args, strategy, seed)
    url = f"sqlite:///{tmp / f'{strategy}-{seed}.db'}"
    study, config = open_study(url, "bench", config, seed=seed)
    run_trials(study, config, verbose=0, data=_data(config))
    return report.summarize(study, url)


def curves(summary, ref):
    from kerasnets.nas.report import hypervolume

    rows = [r for r in summary["trials"] if r["state"] in ("complete", "pruned")]
    best, hv, pts, b = [], [], [], 0.0
    for r in sorted(rows, key=lambda r: r["number"]):
        if r["accuracy"] is not None:
            b = max(b, r["accuracy"])
            pts.append((r["accuracy"], r["macs"]))
        best.append(b)
        hv.append(hypervolume(pts, ref))
    return best, hv


def strategies(args, tmp):
    import numpy as np

    runs = {"random": [], "evolution": []}
    for seed in range(args.seeds):
        for strategy in runs:
            t0 = time.perf_counter()
            runs[strategy].append(run_study(args, strategy, seed, tmp))
            print(f"  {strategy:<9} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    macs = [r["macs"] for s in runs.values() for x in s for r in x["trials"] if r["macs"]]
    ref = 10 ** np.ceil(np.log10(max(macs) * 1.01))
    table = {}
    for strategy, summaries in runs.items():
        cs = [curves(s, ref) for s in summaries]
        n = min(len(c[0]) for c in cs)
        best = np.array([c[0][:n] for c in cs])
        hv = np.array([c[1][:n] for c in cs])
        table[strategy] = {"best": best, "hv": hv}
    return runs, table, ref


def plot(table, ref, path):
    import numpy as np
    from matplotlib.figure import Figure

    from kerasnets import io

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    for i, (strategy, t) in enumerate(table.items()):
        for ax, key in ((a1, "best"), (a2, "hv")):
            m, s = t[key].mean(0), t[key].std(0)
            x = np.arange(1, len(m) + 1)
            ax.plot(
                x,
                m,
                color=f"C{i}",
                marker="o",
                markersize=3,
                label=f"{strategy} (mean of {len(t[key])} seeds)",
            )
            ax.fill_between(x, m - s, m + s, color=f"C{i}", alpha=0.2, label=f"{strategy} ± std")
    a1.set_ylabel("best validation accuracy so far (fraction)")
    a1.set_title("Best accuracy vs budget")
    a2.set_ylabel(f"hypervolume (accuracy × decades of MACs, ref {ref:.0e})")
    a2.set_title("Hypervolume vs budget")
    from matplotlib.ticker import MaxNLocator

    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("finished trials (count)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return io.save_figure(fig, path)


def proxies(runs, args):
    import numpy as np

    from kerasnets import data
    from kerasnets.nas import build, proxies
    from kerasnets.nas.space import Architecture

    (x, y), _ = data.load("digits", subset=64)
    xb, yb = x[:32], y[:32]
    # Completed candidates only: a pruned one's training was cut short.
    rows = [
        r
        for s in runs["random"]
        for r in s["trials"]
        if r["state"] == "complete" and r["accuracy"] is not None
    ]
    scores = {name: [] for name in proxies.PROXIES}
    times = {name: [] for name in proxies.PROXIES}
    for r in rows:
        for name in proxies.PROXIES:
            model = build(Architecture.from_dict(r["arch"]), x.shape[1:], 10)
            t0 = time.perf_counter()
            scores[name].append(proxies.score(model, name, xb, yb))
            times[name].append(time.perf_counter() - t0)
    acc = [r["accuracy"] for r in rows]
    train = float(np.median([r["time_train"] for r in rows]))
    out = {}
    for name in proxies.PROXIES:
        out[name] = {
            "kendall_tau": proxies.kendall_tau(scores[name], acc),
            "median_seconds": float(np.median(times[name])),
            "cost_ratio": train / float(np.median(times[name])),
        }
    return out, len(rows), train


def overhead(runs):
    import numpy as np

    shares = [
        (r["wall"] - r["time_train"]) / r["wall"]
        for s in runs.values()
        for x in s
        for r in x["trials"]
        if r["state"] == "complete" and r["wall"] and r["time_train"] is not None
    ]
    return float(np.median(shares)), float(np.percentile(shares, 90)), len(shares)


def workers(args, tmp, n_workers):
    from kerasnets.nas.report import summarize
    from kerasnets.nas.study import open_study

    config = _config(args, "random", 0)
    config["trials"] = args.worker_trials
    url = f"sqlite:///{tmp / f'workers-{n_workers}.db'}"
    study, _ = open_study(url, "w", config)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kerasnets",
                "nas",
                "worker",
                "--storage",
                url,
                "--study",
                "w",
                "--quiet",
            ],
            env=env,
        )
        for _ in range(n_workers)
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a worker failed with exit {p.returncode}")
    rows = [r for r in summarize(study)["trials"] if r["state"] in ("complete", "pruned")]
    span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    return len(rows) / span, len(rows), span


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24, help="budget per search (24)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per strategy (3)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (5)")
    parser.add_argument(
        "--subset", type=int, default=0, help="training samples (0: all, as a default search)"
    )
    parser.add_argument("--worker-trials", type=int, default=6, help="budget of the worker runs")
    parser.add_argument("--out", default="runs/bench-nas", help="where the figure goes")
    parser.add_argument("--skip-workers", action="store_true")
    args = parser.parse_args(argv)
    try:  # the search settings are checked before anything runs or is written
        _config(args, "random", 0)
        if args.seeds < 1 or args.worker_trials < 1:
            raise ValueError(
                f"--seeds and --worker-trials must be positive, got {args.seeds} and "
                f"{args.worker_trials}"
            )
    except ValueError as e:
        parser.error(str(e))
    import keras

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"backend: {keras.backend.backend()}; {args.trials} trials × {args.seeds} seeds, "
        f"{args.epochs} epochs on {args.subset or 'all'} digits",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs, table, ref = strategies(args, tmp)
        print("\n1. evolution vs random at equal budget (mean ± std over seeds)")
        for strategy, t in table.items():
            print(
                f"  {strategy:<9} best accuracy {t['best'][:, -1].mean():.3f} ± "
                f"{t['best'][:, -1].std():.3f}   hypervolume {t['hv'][:, -1].mean():.3f} ± "
                f"{t['hv'][:, -1].std():.3f}"
            )
        r, e = table["random"], table["evolution"]
        print(
            "  evolution / random: best accuracy "
            f"{e['best'][:, -1].mean() / r['best'][:, -1].mean():.3f}×, "
            f"hypervolume {e['hv'][:, -1].mean() / r['hv'][:, -1].mean():.3f}×"
        )
        print(f"  figure: {plot(table, ref, out / 'nas_strategies.png')}")
        prox, n, train = proxies(runs, args)
        print(
            f"\n2. zero-cost proxies on {n} completed random-search candidates "
            f"(median training {train:.2f} s)"
        )
        for name, p in prox.items():
            print(
                f"  {name:<10} Kendall tau {p['kendall_tau']:+.3f}   "
                f"{p['median_seconds'] * 1e3:.0f} ms per candidate   "
                f"{p['cost_ratio']:.0f}× cheaper than training"
            )
        med, p90, n = overhead(runs)
        print(
            f"\n3. overhead per trial (Optuna + build + MACs + compile) / trial wall time: "
            f"median {med:.1%}, 90th percentile {p90:.1%} over {n} trials"
        )
        if not args.skip_workers:
            one = workers(args, tmp, 1)
            two = workers(args, tmp, 2)
            print(
                f"\n4. workers on one SQLite study ({args.worker_trials} trials): one "
                f"{one[0] * 60:.2f} trials/min, two {two[0] * 60:.2f} trials/min, ratio "
                f"{two[0] / one[0]:.2f}× (CPUs: {os.cpu_count()}, "
                f"load average {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    from kerasnets import _quiet

    with _quiet.retracing_warnings_off():  # one tf.function per trained candidate is expected
        main()
