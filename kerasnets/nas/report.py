"""The report of a search, computed from the study alone (so any machine can write it).

:func:`summarize` reads the trials of an Optuna study (in SQLite or PostgreSQL) and returns plain
JSON data: the Pareto front of accuracy against MACs, the top 5 architectures, the patterns
shared by the top quarter, the hand-designed baselines (if a run stored them), which trials
dominate ``baseline_cnn``, the hypervolume, and the cost of the search. :func:`write_report` adds
the figures (``pareto.png``, ``progress.png``, ``patterns.png``) and ``report.md``.

Example:
    >>> pareto_front([(0.9, 100.0), (0.95, 300.0), (0.8, 200.0)])
    [0, 1]
    >>> round(hypervolume([(0.9, 100.0), (0.95, 1000.0)], ref_cost=10000.0), 3)
    1.85
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

BASELINES_ATTR = "kerasnets_nas_baselines"


# --------------------------------------------------------------------------------------
# Pareto front and hypervolume (two objectives: maximize accuracy, minimize cost). Written
# here because the 2-D case is a sort and a sum, and Optuna's own helpers are private.
def pareto_front(points) -> list[int]:
    """Indices of the points (accuracy, cost) no other point dominates, by increasing cost.

    A point dominates another if its accuracy is ≥ and its cost ≤, one of them strictly.
    """
    pts = [(float(a), float(c)) for a, c in points]
    order = sorted(range(len(pts)), key=lambda i: (pts[i][1], -pts[i][0]))
    front, best = [], -math.inf
    for i in order:
        if pts[i][0] > best:
            front.append(i)
            best = pts[i][0]
    return front


def hypervolume(points, ref_cost: float, ref_accuracy: float = 0.0) -> float:
    """Area dominated by ``points`` (accuracy, cost) up to the reference point, in accuracy ×
    decades of cost: the cost axis is ``log10`` (MACs span orders of magnitude).

    Points at or beyond the reference are ignored. Larger is better.
    """
    pts = [(a, c) for a, c in points if a > ref_accuracy and 0 < c < ref_cost]
    if not pts:
        return 0.0
    front = [pts[i] for i in pareto_front(pts)]  # increasing cost and accuracy
    volume, right = 0.0, math.log10(ref_cost)
    for acc, cost in reversed(front):
        volume += (acc - ref_accuracy) * (right - math.log10(cost))
        right = math.log10(cost)
    return volume


def dominates(a, b) -> bool:
    """True if (accuracy, cost) ``a`` dominates ``b`` in the issue's sense: higher accuracy at
    lower cost, or at least equal accuracy at ≤ half the cost."""
    return (a[0] > b[0] and a[1] < b[1]) or (a[0] >= b[0] and a[1] <= b[1] / 2)


# --------------------------------------------------------------------------------------
def _rows(study) -> list[dict]:
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("over_budget"):
            continue
        ua = t.user_attrs
        rows.append(
            {
                "number": t.number,
                "state": "over_max_macs" if ua.get("over_max_macs") else t.state.name.lower(),
                "accuracy": ua.get("accuracy") if t.state == TrialState.COMPLETE else None,
                "macs": ua.get("macs"),
                "params": ua.get("params"),
                "arch": ua.get("arch"),
                "parent": t.system_attrs.get("evolution:parent"),
                "retry_of": t.system_attrs.get("failed_trial"),
                "time_build": ua.get("time_build"),
                "time_train": ua.get("time_train"),
                "cpu_trial": ua.get("cpu_trial"),
                "wall": (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else None,
                "start": t.datetime_start.timestamp() if t.datetime_start else None,
                "end": t.datetime_complete.timestamp() if t.datetime_complete else None,
            }
        )
    return rows


def _describe(arch: dict | None) -> str:
    from kerasnets.nas.space import Architecture

    return Architecture.from_dict(arch).describe() if arch else "-"


def _patterns(rows: list[dict]) -> dict:
    """Layer-type shares, mean depth and channel shares in the top quarter vs all trials."""

    def stats(sel):
        types, chans, depths, downs = Counter(), Counter(), [], []
        for r in sel:
            layers = r["arch"]["layers"]
            depths.append(len(layers))
            downs.append(sum(lay["downsample"] for lay in layers))
            types.update(lay["type"] for lay in layers)
            chans.update(str(lay["channels"]) for lay in layers)
        n_types, n_chans = sum(types.values()) or 1, sum(chans.values()) or 1
        return {
            "n": len(sel),
            "layer_types": {k: v / n_types for k, v in sorted(types.items())},
            "channels": {k: v / n_chans for k, v in sorted(chans.items(), key=lambda x: int(x[0]))},
            "depth_mean": float(np.mean(depths)) if depths else None,
            "downsamples_mean": float(np.mean(downs)) if downs else None,
        }

    done = sorted(
        (r for r in rows if r["accuracy"] is not None and r["arch"]),
        key=lambda r: -r["accuracy"],
    )
    top = done[: max(1, len(done) // 4)] if done else []
    return {"top_quarter": stats(top), "all": stats(done)}


def summarize(study, storage_url: str | None = None) -> dict:
    """The report's data, from the study's trials and attributes alone (JSON-able dict)."""
    from kerasnets.nas.study import CONFIG_ATTR, redact

    config = study.user_attrs.get(CONFIG_ATTR, {})
    rows = _rows(study)
    done = [r for r in rows if r["accuracy"] is not None and r["macs"] is not None]
    front = [done[i] for i in pareto_front([(r["accuracy"], r["macs"]) for r in done])]
    ranked = sorted(done, key=lambda r: (-r["accuracy"], r["macs"]))
    baselines = study.user_attrs.get(BASELINES_ATTR, {})
    all_macs = [r["macs"] for r in done] + [b["macs"] for b in baselines.values()]
    ref = 10 ** math.ceil(math.log10(max(all_macs) * 1.01)) if all_macs else None
    base = baselines.get("baseline_cnn")
    dominating = (
        [
            r["number"]
            for r in done
            if dominates((r["accuracy"], r["macs"]), (base["accuracy"], base["macs"]))
        ]
        if base
        else None
    )
    finished = [r for r in rows if r["state"] in ("complete", "pruned")]
    walls = [r["wall"] for r in finished if r["wall"] is not None]
    trains = [r["time_train"] or 0.0 for r in finished if r["wall"] is not None]
    cpus = [r["cpu_trial"] for r in finished if r["cpu_trial"] is not None]
    starts = [r["start"] for r in rows if r["start"]]
    ends = [r["end"] for r in rows if r["end"]]
    cost = {
        "trials_finished": len(finished),
        "trials_complete": sum(r["state"] == "complete" for r in rows),
        "trials_pruned": sum(r["state"] == "pruned" for r in rows),
        "trials_failed": sum(r["state"] == "fail" for r in rows),
        "trials_running": sum(r["state"] in ("running", "waiting") for r in rows),
        "candidates_over_max_macs": sum(r["state"] == "over_max_macs" for r in rows),
        "wall_seconds": (max(ends) - min(starts)) if starts and ends else None,
        "trial_seconds_total": float(sum(walls)),
        "train_seconds_total": float(sum(trains)),
        "overhead_share": float(1 - sum(trains) / sum(walls)) if sum(walls) > 0 else None,
        "cpu_seconds_per_trial": float(np.mean(cpus)) if cpus else None,
    }

    def brief(r):
        return {k: r[k] for k in ("number", "accuracy", "macs", "params", "arch")} | {
            "layers": _describe(r["arch"])
        }

    return {
        "study": study.study_name,
        "storage": redact(storage_url) if storage_url else None,
        "config": config,
        "best": brief(ranked[0]) if ranked else None,
        "top5": [brief(r) for r in ranked[:5]],
        "pareto_front": [brief(r) for r in front],
        "hypervolume": hypervolume([(r["accuracy"], r["macs"]) for r in done], ref) if ref else 0.0,
        "hypervolume_ref_macs": ref,
        "baselines": baselines,
        "dominating_baseline_cnn": dominating,
        "patterns": _patterns(rows),
        "cost": cost,
        "trials": rows,
    }


# --------------------------------------------------------------------------------------
# figures
def _figure(ncols=1, width=6.5, height=4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False).ravel()


def plot_pareto(summary: dict):
    """Validation accuracy against MACs: every trial, the Pareto front and the baselines."""
    fig, (ax,) = _figure()
    done = [r for r in summary["trials"] if r["accuracy"] is not None and r["macs"]]
    ax.scatter(
        [r["macs"] for r in done],
        [r["accuracy"] for r in done],
        s=18,
        color="0.6",
        label=f"trials ({len(done)})",
        zorder=2,
    )
    front = summary["pareto_front"]
    ax.step(
        [r["macs"] for r in front],
        [r["accuracy"] for r in front],
        where="post",
        color="C0",
        marker="o",
        label="Pareto front",
        zorder=3,
    )
    markers = {"baseline_cnn": "s", "efficient_cnn": "D", "mobilenet_style": "^"}
    for i, (name, b) in enumerate(summary["baselines"].items()):
        ax.scatter(
            b["macs"],
            b["accuracy"],
            s=70,
            marker=markers.get(name, "P"),
            color=f"C{i + 1}",
            edgecolor="black",
            label=name,
            zorder=4,
        )
    ax.set_xscale("log")
    ax.set_xlabel("multiply-accumulates per image (MACs, log scale)")
    ax.set_ylabel("validation accuracy (fraction)")
    ax.set_title(f"Study {summary['study']!r}: accuracy vs cost")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_progress(summary: dict):
    """Best accuracy and hypervolume so far against finished trials."""
    fig, (a1, a2) = _figure(2, width=5.0)
    rows = [r for r in summary["trials"] if r["state"] in ("complete", "pruned")]
    rows.sort(key=lambda r: r["end"] or 0)
    best, hv, pts, b = [], [], [], -np.inf
    ref = summary["hypervolume_ref_macs"] or 1.0
    for r in rows:
        if r["accuracy"] is not None:
            b = max(b, r["accuracy"])
            pts.append((r["accuracy"], r["macs"]))
        best.append(b if np.isfinite(b) else np.nan)
        hv.append(hypervolume(pts, ref))
    x = np.arange(1, len(rows) + 1)
    a1.plot(x, best, marker="o", markersize=3, color="C0", label="best so far")
    a1.set_xlabel("finished trials (count)")
    a1.set_ylabel("best validation accuracy (fraction)")
    a1.set_title("Best accuracy so far")
    a2.plot(x, hv, marker="o", markersize=3, color="C1", label="hypervolume")
    a2.set_xlabel("finished trials (count)")
    a2.set_ylabel(f"hypervolume (accuracy × decades of MACs, ref {ref:.0e})")
    a2.set_title("Hypervolume so far")
    from matplotlib.ticker import MaxNLocator

    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_patterns(summary: dict):
    """Share of each layer type and channel count: top quarter vs all complete trials."""
    fig, axes = _figure(2, width=5.0)
    pat = summary["patterns"]
    for ax, key, xlabel in (
        (axes[0], "layer_types", "layer type"),
        (axes[1], "channels", "output channels of a layer"),
    ):
        keys = sorted(
            set(pat["all"][key]) | set(pat["top_quarter"][key]),
            key=lambda k: (k.isdigit() and int(k), k),
        )
        x = np.arange(len(keys))
        for j, (group, label) in enumerate((("all", "all"), ("top_quarter", "top quarter"))):
            vals = [pat[group][key].get(k, 0.0) for k in keys]
            ax.bar(
                x + (j - 0.5) * 0.4,
                vals,
                width=0.4,
                color=f"C{j}",
                label=f"{label} (n={pat[group]['n']})",
            )
        ax.set_xticks(x, keys, rotation=30 if key == "layer_types" else 0, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of layers (fraction)")
        ax.set_ylim(0, 1.3)  # room above the bars (shares ≤ 1) for the legend
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.legend(fontsize=8, loc="upper left", ncol=2)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_title("Layer types")
    axes[1].set_title("Widths")
    return fig


# --------------------------------------------------------------------------------------
def _fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(summary: dict) -> str:
    """``report.md`` text: every number comes from ``summary``."""
    from kerasnets.analysis import human

    c, cfg = summary["cost"], summary["config"]
    lines = [
        f"# Neural architecture search: study `{summary['study']}`",
        "",
        f"Strategy **{cfg.get('strategy')}**, objectives {', '.join(cfg.get('objectives', []))}, "
        f"dataset {cfg.get('dataset')} (subset {cfg.get('subset') or 'all'}), "
        f"{cfg.get('epochs')} epoch(s) per trial, budget {cfg.get('trials')} finished trials"
        + (f", max_macs {cfg['max_macs']}" if cfg.get("max_macs") else "")
        + (f", storage `{summary['storage']}`." if summary.get("storage") else "."),
        "",
        "![accuracy vs MACs](pareto.png)",
        "",
        "## Top 5 architectures (validation accuracy)",
        "",
        "| trial | accuracy | MACs | params | layers |",
        "|---|---|---|---|---|",
    ]
    for r in summary["top5"]:
        lines.append(
            f"| {r['number']} | {_fmt(r['accuracy'])} | {human(r['macs'])} | "
            f"{human(r['params'])} | {r['layers']} |"
        )
    if summary["baselines"]:
        lines += [
            "",
            "## Hand-designed baselines (same data and epochs)",
            "",
            "| model | accuracy | MACs | params |",
            "|---|---|---|---|",
        ]
        for name, b in summary["baselines"].items():
            lines.append(
                f"| {name} | {_fmt(b['accuracy'])} | {human(b['macs'])} | {human(b['params'])} |"
            )
        dom = summary["dominating_baseline_cnn"]
        lines += [
            "",
            f"Trials dominating `baseline_cnn` (higher accuracy at lower MACs, or equal accuracy "
            f"at ≤ 1/2 the MACs): {len(dom)}"
            + (f" (trials {', '.join(map(str, dom[:10]))})." if dom else "."),
        ]
    lines += [
        "",
        "## Pareto front",
        "",
        "| trial | accuracy | MACs | layers |",
        "|---|---|---|---|",
    ]
    for r in summary["pareto_front"]:
        lines.append(
            f"| {r['number']} | {_fmt(r['accuracy'])} | {human(r['macs'])} | {r['layers']} |"
        )
    lines.append(
        f"\nHypervolume {summary['hypervolume']:.4f} (accuracy × decades of MACs up to "
        f"{summary['hypervolume_ref_macs']:.0e} MACs)."
        if summary["hypervolume_ref_macs"]
        else ""
    )
    pat = summary["patterns"]
    lines += [
        "",
        "## Patterns among the best",
        "",
        "![patterns](patterns.png)",
        "",
        "| | top quarter | all complete |",
        "|---|---|---|",
        f"| trials | {pat['top_quarter']['n']} | {pat['all']['n']} |",
        f"| mean depth | {_fmt(pat['top_quarter']['depth_mean'], 1)} | "
        f"{_fmt(pat['all']['depth_mean'], 1)} |",
        f"| mean downsampling layers | {_fmt(pat['top_quarter']['downsamples_mean'], 1)} | "
        f"{_fmt(pat['all']['downsamples_mean'], 1)} |",
    ]
    for key in ("layer_types", "channels"):
        for k in pat["all"][key]:
            lines.append(
                f"| share of {k} layers | {_fmt(pat['top_quarter'][key].get(k, 0.0), 2)} | "
                f"{_fmt(pat['all'][key][k], 2)} |"
            )
    lines += [
        "",
        "## Cost of the search",
        "",
        "![progress](progress.png)",
        "",
        f"- trials: {c['trials_finished']} finished ({c['trials_complete']} complete, "
        f"{c['trials_pruned']} pruned), {c['trials_failed']} failed (retried), "
        f"{c['trials_running']} running or waiting; {c['candidates_over_max_macs']} candidates "
        "over max_macs skipped before training (not counted)",
        f"- wall time from first start to last end: {_fmt(c['wall_seconds'], 1)} s",
        f"- CPU-seconds per trial (mean, process time): {_fmt(c['cpu_seconds_per_trial'], 1)}",
        f"- time in training: {_fmt(c['train_seconds_total'], 1)} s of "
        f"{_fmt(c['trial_seconds_total'], 1)} s inside trials (overhead share "
        f"{_fmt(c['overhead_share'], 3)})",
        "",
    ]
    return "\n".join(lines)


def write_report(study, out, storage_url: str | None = None) -> dict:
    """Write ``summary.json``, ``report.md`` and the three figures into ``out``; return summary."""
    from kerasnets import io

    out = Path(out)
    summary = summarize(study, storage_url)
    figures = {}
    if summary["trials"]:
        for name, fn in (
            ("pareto", plot_pareto),
            ("progress", plot_progress),
            ("patterns", plot_patterns),
        ):
            figures[name] = str(io.save_figure(fn(summary), out / f"{name}.png"))
    summary["figures"] = figures
    io.write_json(out / "summary.json", summary)
    io.write_text(out / "report.md", render_markdown(summary))
    summary["report"] = str(out / "report.md")
    return summary


# --------------------------------------------------------------------------------------
# training outside the search: baselines and the exported best
def _train(model, data, config, seed=0):
    import keras

    (x, y), (xv, yv), (xt, yt) = data
    keras.utils.set_random_seed(seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        verbose=0,
    )
    test = model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
    return float(h.history["val_accuracy"][-1]), float(test)


def baseline_models(input_shape, num_classes):
    """The hand-designed baselines: the zoo's ``baseline_cnn`` and ``efficient_cnn``, and a
    MobileNet-style network (the zoo's ``mobilenet`` at α=0.25 where the input is ≥ 16 px, else
    :func:`kerasnets.nas.builder.mobilenet_style`)."""
    from kerasnets import models
    from kerasnets.nas.builder import build, mobilenet_style

    opts = {"input_shape": tuple(input_shape), "num_classes": num_classes}
    if min(input_shape[:2]) >= 16:
        mobile = models.build("mobilenet", alpha=0.25, **opts)
    else:
        mobile = build(mobilenet_style(), name="mobilenet_style", **opts)
    return {
        "baseline_cnn": lambda: models.build("baseline_cnn", **opts),
        "efficient_cnn": lambda: models.build("efficient_cnn", **opts),
        "mobilenet_style": lambda: mobile,
    }


def train_baselines(study, config, data, verbose=1) -> dict:
    """Train the baselines like a trial (same data, epochs, batch size); store them in the study."""
    from kerasnets import analysis

    (x, y), (xv, yv), _ = data
    num_classes = int(max(y.max(), yv.max()) + 1)
    results = {}
    for name, make in baseline_models(x.shape[1:], num_classes).items():
        model = make()
        val, test = _train(model, data, config, seed=int(config.get("seed", 0)))
        results[name] = {
            "accuracy": val,
            "test_accuracy": test,
            "macs": int(analysis.count_macs(model)),
            "params": int(model.count_params()),
        }
        if verbose:
            print(
                f"baseline {name:<16} acc {val:.3f}  MACs {results[name]['macs'] / 1e6:.3f}M",
                flush=True,
            )
    study.set_user_attr(BASELINES_ATTR, results)
    return results


def export_best(study, config, data, out, verbose=1) -> dict | None:
    """Retrain the best architecture (seeded as in its trial) and save ``best.keras`` and
    ``best_int8.tflite`` (int8 weights and activations, calibrated on training images)."""
    from kerasnets import analysis, io
    from kerasnets.nas.builder import build
    from kerasnets.nas.space import Architecture

    summary = summarize(study)
    if summary["best"] is None:
        return None
    best = summary["best"]
    (x, y), (xv, yv), _ = data
    num_classes = int(max(y.max(), yv.max()) + 1)
    model = build(Architecture.from_dict(best["arch"]), x.shape[1:], num_classes, name="nas_best")
    val, test = _train(model, data, config, seed=int(config.get("seed", 0)) + best["number"])
    out = Path(out)
    keras_path = io.save_model(model, out / "best.keras", portable=True)
    from kerasnets.tflite import convert

    tflite_path = convert(model, out / "best_int8.tflite", quantize="int8", calibration=x[:100])
    result = {
        "trial": best["number"],
        "layers": best["layers"],
        "accuracy": val,
        "test_accuracy": test,
        "macs": int(analysis.count_macs(model)),
        "keras": str(keras_path),
        "tflite_int8": str(tflite_path),
        "tflite_bytes": Path(tflite_path).stat().st_size,
    }
    if verbose:
        print(
            f"best: trial {best['number']} retrained: val acc {val:.3f}, test acc {test:.3f}; "
            f"saved {keras_path} and {tflite_path}",
            flush=True,
        )
    return result
