"""Peak memory and step time of one DenseNet training step with and without ``remat=True``.

``DenseNet(remat=True)`` rematerializes every dense layer (BN → ReLU → 1×1 conv → BN → ReLU →
3×3 conv → concat) as one unit with ``keras.remat``: the backward pass recomputes the
intermediates instead of keeping them (Pleiss et al. 2017, "Memory-efficient implementation of
DenseNets"). Goal, for DenseNet-121 at 224×224×3, batch 8: peak memory of a training step
<= 0.70 × that without remat, for a step time <= 1.4 ×.

Each backend and configuration (remat off / on) runs in its own subprocess, so that the peak of
one never hides in the other. In the subprocess the model (1000 classes, ImageNet stem, SGD,
sparse categorical cross-entropy, random data) takes ``--warmup`` steps (compilation), then:

* step time: the median wall time of ``--repeats`` ``train_on_batch`` calls (each returns Python
  floats, so the step has finished), and beside it the median process CPU time (all threads),
  which other work on the machine disturbs less; the goal is judged on wall time;
* peak RSS growth of a step (Linux): ``VmRSS`` from ``/proc/self/status`` just before
  ``train_on_batch``, the peak reset to it by writing ``5`` to ``/proc/self/clear_refs``, then
  ``VmHWM`` (the kernel's exact resident high-water mark) after the step, minus the ``VmRSS``
  before; the median of up to three steps. Where ``clear_refs`` cannot be written, a thread
  samples ``VmRSS`` every millisecond instead (the output says which). The subprocess runs with
  glibc ``MALLOC_MMAP_THRESHOLD_=131072``, so every freed tensor is unmapped at once and the
  resident set follows the live tensors (without it glibc keeps freed memory for reuse and the
  growth of later steps reads near zero). The growth counts what the step allocates beyond the
  resident set before it (weights, optimizer state, and whatever a backend keeps from one step
  to the next, e.g. torch's ``.grad`` buffers): the activations kept for the backward pass and
  the temporaries, plus the gradients where a backend allocates them anew in each step;
* JAX only: ``memory_analysis()`` of the XLA-compiled train step (``jax.jit(model.train_step)``,
  the function Keras runs): ``temp_size_in_bytes`` is every buffer the step needs beyond its
  arguments and outputs, i.e. activations, gradients and temporaries; XLA:CPU allocates it as one
  block per run. This needs one more compilation of the step.

Finding on CPU: the saving is real on TensorFlow and PyTorch. On JAX, XLA:CPU expands the
``optimization_barrier`` that ``jax.checkpoint`` places around the recomputation early in its
pipeline (pass ``cse_barrier_expander``), then merges (CSE) the recomputation back into the
forward pass, so remat changes neither the memory nor the time there (XLA on GPU and TPU keeps
the barriers). The row ``jax-keep-barriers`` runs JAX with
``XLA_FLAGS=--xla_disable_hlo_passes=cse_barrier_expander``, which keeps them: there the
saving appears (the same flag works for any JAX program on CPU; it must be set before JAX
starts).

    python benchmarks/remat_memory.py                      # the goal: DenseNet-121, 224, batch 8
    python benchmarks/remat_memory.py --size 32 --batch 2 --repeats 1 --backends torch  # smoke
    python benchmarks/remat_memory.py --backends jax,jax-keep-barriers --json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import threading
import time

BACKENDS = ("tensorflow", "jax", "torch")
#: JAX with XLA:CPU's early expansion of optimization barriers switched off: then the
#: recomputation that ``jax.checkpoint`` fences with barriers survives CSE (see the docstring).
KEEP_BARRIERS = "jax-keep-barriers"
KEEP_BARRIERS_FLAG = "--xla_disable_hlo_passes=cse_barrier_expander"
CONFIGS = (*BACKENDS[:2], KEEP_BARRIERS, BACKENDS[2])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MMAP_THRESHOLD = "131072"
GOAL_MEMORY, GOAL_TIME = 0.70, 1.4


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current ``VmRSS``; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    """Largest ``VmRSS`` seen while running, sampled every millisecond (the fallback)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = _status_kib("VmRSS")
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _status_kib("VmRSS"))
            time.sleep(0.001)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, _status_kib("VmRSS"))


def peak_growth_mib(step) -> tuple[float, str]:
    """Run ``step()`` once; return (peak RSS minus RSS before, in MiB; how it was measured)."""
    gc.collect()
    before = _status_kib("VmRSS")
    if _reset_peak():
        step()
        return (_status_kib("VmHWM") - before) / 1024, "VmHWM after clear_refs"
    sampler = _Sampler()
    sampler.start()
    step()
    return (sampler.stop() - before) / 1024, "VmRSS sampled every 1 ms"


def _xla_memory(model, x, y) -> dict:
    """Sizes of the XLA-compiled train step of ``model`` (JAX), in MiB."""
    import jax

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    compiled = jax.jit(model.train_step, donate_argnums=0).lower(state, (x, y, None)).compile()
    analysis = compiled.memory_analysis()
    mib = 1024 * 1024
    return {
        "temp_mib": analysis.temp_size_in_bytes / mib,
        "argument_mib": analysis.argument_size_in_bytes / mib,
        "output_mib": analysis.output_size_in_bytes / mib,
    }


def child(args) -> dict:
    """Measure one configuration on the current backend (run in its own process)."""
    import keras
    import numpy as np

    from kerasnets import models

    keras.utils.set_random_seed(0)
    shape = (args.size, args.size, 3)
    model = models.build(
        f"densenet{args.depth}", input_shape=shape, stem="imagenet", remat=args.remat
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, *shape)).astype("float32")
    y = rng.integers(0, 1000, size=(args.batch,)).astype("int32")

    def step():
        model.train_on_batch(x, y)

    start = time.perf_counter()
    for _ in range(args.warmup):
        step()
    warmup_s = time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peaks, method = [], None
    for _ in range(min(3, args.repeats)):
        growth, method = peak_growth_mib(step)
        peaks.append(growth)
    out = {
        "backend": keras.backend.backend(),
        "remat": args.remat,
        "model": model.name,
        "params": model.count_params(),
        "input": [args.batch, *shape],
        "step_s": float(np.median(times)),
        "step_times_s": times,
        "cpu_step_s": float(np.median(cpu_times)),
        "warmup_s": warmup_s,
        "peak_growth_mib": float(np.median(peaks)),
        "peak_growths_mib": peaks,
        "memory_method": method,
        "rss_mib": _status_kib("VmRSS") / 1024,
    }
    if keras.backend.backend() == "jax":
        out["xla"] = _xla_memory(model, x, y)
    return out


def run_child(config: str, remat: bool, args) -> dict:
    backend = "jax" if config == KEEP_BARRIERS else config
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["MALLOC_MMAP_THRESHOLD_"] = MMAP_THRESHOLD
    xla_flags = [env["XLA_FLAGS"]] if env.get("XLA_FLAGS") else []
    if args.threads:
        n = str(args.threads)
        env.update(OMP_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS=n)
        xla_flags.append(f"--xla_cpu_multi_thread_eigen={'true' if n != '1' else 'false'}")
    if config == KEEP_BARRIERS:
        xla_flags.append(KEEP_BARRIERS_FLAG)
    if xla_flags:
        env["XLA_FLAGS"] = " ".join(xla_flags)
    command = [sys.executable, os.path.abspath(__file__), "--child", "--backends", backend]
    command += ["--batch", str(args.batch), "--size", str(args.size), "--depth", str(args.depth)]
    command += ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    command += ["--remat"] if remat else []
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"backend": config, "remat": remat, "error": tail}
    result = json.loads(lines[-1][len("RESULT ") :])
    result["backend"] = config
    if config == KEEP_BARRIERS:
        result["xla_flags"] = env["XLA_FLAGS"]
    result["wall_s"] = time.perf_counter() - start
    return result


def compare(off: dict, on: dict) -> dict:
    """Ratios remat / no remat and whether the goals hold."""
    out = {
        "memory_ratio": on["peak_growth_mib"] / off["peak_growth_mib"],
        "time_ratio": on["step_s"] / off["step_s"],
        "cpu_time_ratio": on["cpu_step_s"] / off["cpu_step_s"],
    }
    if "xla" in off and "xla" in on:
        out["xla_temp_ratio"] = on["xla"]["temp_mib"] / off["xla"]["temp_mib"]
    memory = out.get("xla_temp_ratio", out["memory_ratio"])
    out["memory_goal"] = out["memory_ratio"] <= GOAL_MEMORY and memory <= GOAL_MEMORY
    out["time_goal"] = out["time_ratio"] <= GOAL_TIME
    return out


def print_report(rows: list, args) -> None:
    print(
        f"DenseNet-{args.depth}, input {args.batch}x{args.size}x{args.size}x3, 1000 classes, SGD; "
        f"step time: median of {args.repeats} train_on_batch after {args.warmup} warm-up; "
        "peak: RSS high-water mark during one step minus RSS before it (median of up to 3)"
    )
    header = (
        f"{'backend':<17} {'peak MiB off':>12} {'on':>8} {'ratio':>6}   "
        f"{'step s off':>10} {'on':>8} {'ratio':>6}   goals (mem <= {GOAL_MEMORY:.2f}, "
        f"time <= {GOAL_TIME:.1f}x)"
    )
    print(header)
    for off, on, cmp in rows:
        backend = off["backend"]
        failed = [r for r in (off, on) if "error" in r]
        if failed:
            for r in failed:
                print(f"{backend:<17} remat={r['remat']}: failed: {r['error']}")
            continue
        goals = (
            f"memory {'yes' if cmp['memory_goal'] else 'NO'}, "
            f"time {'yes' if cmp['time_goal'] else 'NO'}"
        )
        print(
            f"{backend:<17} {off['peak_growth_mib']:>12.1f} {on['peak_growth_mib']:>8.1f} "
            f"{cmp['memory_ratio']:>6.2f}   {off['step_s']:>10.3f} {on['step_s']:>8.3f} "
            f"{cmp['time_ratio']:>6.2f}   {goals}"
        )
        print(
            f"{'':<17} CPU time per step (all threads): {off['cpu_step_s']:.3f} s off, "
            f"{on['cpu_step_s']:.3f} s on, ratio {cmp['cpu_time_ratio']:.2f}"
        )
        if "xla_temp_ratio" in cmp:
            print(
                f"{'':<17} XLA compiled train step, temp buffers: {off['xla']['temp_mib']:.1f} "
                f"MiB off, {on['xla']['temp_mib']:.1f} MiB on, ratio {cmp['xla_temp_ratio']:.2f} "
                f"(arguments {off['xla']['argument_mib']:.1f} MiB)"
            )
    methods = sorted({r["memory_method"] for row in rows for r in row[:2] if "memory_method" in r})
    if methods:
        print(
            f"peak RSS measured as: {', '.join(methods)} (/proc/self/status), glibc "
            f"MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}; {rows[0][0].get('params', 0):,} "
            "parameters (XLA's temp buffers include their gradients, 4 bytes each)"
        )
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8, help="batch size (8)")
    parser.add_argument("--size", type=int, default=224, help="image side, >= 32 (224)")
    parser.add_argument("--depth", type=int, default=121, choices=(121, 169, 201))
    parser.add_argument(
        "--backends",
        default=",".join(CONFIGS),
        help=f"comma-separated, from {', '.join(CONFIGS)} (all); {KEEP_BARRIERS} is JAX with "
        f"XLA_FLAGS={KEEP_BARRIERS_FLAG}",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per config (5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (2)")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads per subprocess (OMP, TensorFlow intra- and inter-op, XLA); 1 on a "
        "machine busy with other work. TensorFlow then runs its ops one at a time in another "
        "order, and its remat peak was higher (0.77 of the peak without remat instead of 0.49 "
        "at 4x128x128): judge the goal with the default",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--remat", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    allowed = BACKENDS if args.child else CONFIGS
    unknown = [b for b in backends if b not in allowed]
    if unknown or not backends:
        parser.error(f"unknown backend(s) {unknown or backends}; allowed: {', '.join(allowed)}")
    if args.batch < 1 or args.repeats < 1 or args.warmup < 1:
        parser.error("--batch, --repeats and --warmup must be positive")
    if args.size < 32:
        parser.error(f"--size must be at least 32 (the ImageNet stem of DenseNet), got {args.size}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    if not os.path.exists("/proc/self/status"):
        parser.error("peak memory is read from /proc/self/status: Linux only")
    if args.child:
        print("RESULT " + json.dumps(child(args)))
        return 0

    rows = []
    for backend in backends:
        off, on = (run_child(backend, remat, args) for remat in (False, True))
        cmp = {} if "error" in off or "error" in on else compare(off, on)
        rows.append((off, on, cmp))
    if args.json:
        print(json.dumps([{"off": off, "on": on, **cmp} for off, on, cmp in rows]))
    else:
        print_report(rows, args)
    return 0 if all(cmp for _, _, cmp in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
