"""Run the whole test suite on TensorFlow, JAX and PyTorch: one pytest process per backend.

    python tests/all_backends.py [pytest args...]

Tests marked ``slow`` run once, on TensorFlow (the first backend), and so do the docstrings'
``>>>`` examples of ``kerasnets`` and ``callbacks`` (``--doctest-modules``). Exits non-zero if
any backend has a failure or collects no tests (pytest exit code 5 is a broken suite here, not
a pass). Ends with one summary line over all backends.

The pytest processes run in two lanes at once (``KERASNETS_TEST_LANES``, default 2; 1 runs
them one after another): the first backend's slow tests and the third backend in one lane,
the first backend's other tests and the second backend in the other. Much of a test's time
is single-threaded (imports, tracing, process start-up), so two lanes on two cores finish
sooner than one (not measured on a quiet machine yet). Each process has
its own ``--basetemp`` and its output is printed whole when it ends.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

BACKENDS = ("tensorflow", "jax", "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The docstrings' examples, run once (on the first backend) beside the tests.
DOCTESTS = [
    "tests",
    "kerasnets",
    "callbacks",
    "--doctest-modules",
]


def _counts(junit_path):
    try:
        root = ET.parse(junit_path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    return total


def _jobs(backends, argv, lanes):
    """``[(name, backend, pytest args)]`` in lanes: ``[[job, ...], ...]``."""
    explicit = any(not a.startswith("-") for a in argv)  # paths given: run just those
    jobs = []
    for i, backend in enumerate(backends):
        if i > 0:
            jobs.append((backend, backend, ["-m", "not slow", *argv]))
        elif explicit:
            jobs.append((backend, backend, list(argv)))
        elif lanes > 1:  # the first backend in two processes: slow tests, and the rest
            jobs.append((f"{backend} (slow)", backend, ["-m", "slow", "tests", *argv]))
            jobs.append((backend, backend, ["-m", "not slow", *DOCTESTS, *argv]))
        else:
            jobs.append((backend, backend, [*DOCTESTS, *argv]))
    if lanes <= 1 or len(jobs) == 1:
        return [jobs]
    if jobs[0][0].endswith("(slow)"):
        # Measured in one CI run: TensorFlow's slow tests take about as long as TensorFlow's
        # other tests and JAX's together (JAX compiles every model it trains); PyTorch's are
        # the shortest and join the slow lane.
        return [[jobs[0], *jobs[3:]], jobs[1:3]]
    return [jobs[0::2], jobs[1::2]]


def main(argv):
    only = os.environ.get("KERASNETS_TEST_BACKENDS")
    backends = only.split(",") if only else BACKENDS
    lanes = int(os.environ.get("KERASNETS_TEST_LANES", "2"))
    results, status, lock = {}, 0, threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        plan = _jobs(backends, argv, lanes)

        def run(name, backend, args):
            slug = name.replace(" ", "").replace("(", "-").replace(")", "")
            junit = os.path.join(tmp, f"{slug}.xml")
            log = os.path.join(tmp, f"{slug}.log")
            cmd = [sys.executable, "-m", "pytest", *args, f"--junitxml={junit}"]
            cmd.append(f"--basetemp={os.path.join(tmp, slug + '-tmp')}")
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
            with lock:
                print(f"===== {name}: started ({' '.join(cmd[3:-2])})", flush=True)
            start = time.time()
            with open(log, "w") as out:
                code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            with lock:
                print(f"\n===== {name}: {' '.join(cmd[1:])}", flush=True)
                with open(log) as out:
                    sys.stdout.write(out.read())
                if code == 5:
                    print(f"!!!!! {name}: pytest collected no tests", flush=True)
                sys.stdout.flush()
                results[name] = (code, _counts(junit), time.time() - start)

        def lane(jobs):
            for job in jobs:
                run(*job)

        threads = [threading.Thread(target=lane, args=(jobs,)) for jobs in plan]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    print("\n===== summary")
    passed = failed = skipped = 0
    order = [job[0] for jobs in plan for job in jobs]
    for name in order:
        code, counts, secs = results.get(name, (1, None, 0.0))
        if code != 0:
            status = 1
        if counts:
            f = counts["failures"] + counts["errors"]
            p = counts["tests"] - f - counts["skipped"]
            passed, failed, skipped = passed + p, failed + f, skipped + counts["skipped"]
            line = f"{p} passed, {f} failed, {counts['skipped']} skipped"
        else:
            line = "no results"
        print(f"{name:>18}: exit {code}, {line}, {secs:.0f} s")
    if status and failed == 0:
        failed = 1  # a backend crashed or collected nothing: never report a clean pass
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
