"""Run the whole test suite on TensorFlow, JAX and PyTorch: one pytest process per backend.

    python tests/all_backends.py [pytest args...]

Tests marked ``slow`` run once, on TensorFlow (the first backend), and so do the docstrings'
``>>>`` examples of ``kerasnets`` and ``callbacks`` (``--doctest-modules``). Exits non-zero if
any backend has a failure or collects no tests (pytest exit code 5 is a broken suite here, not
a pass). Ends with one summary line over all backends.
"""

import os
import subprocess
import sys
import tempfile
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


def main(argv):
    only = os.environ.get("KERASNETS_TEST_BACKENDS")
    backends = only.split(",") if only else BACKENDS
    results, status = {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, backend in enumerate(backends):
            junit = os.path.join(tmp, f"{backend}.xml")
            marker = [] if i == 0 else ["-m", "not slow"]
            if i == 0 and not any(not a.startswith("-") for a in argv):
                marker += DOCTESTS
            cmd = [sys.executable, "-m", "pytest", *marker, f"--junitxml={junit}", *argv]
            print(f"\n===== {backend}: {' '.join(cmd[1:])}", flush=True)
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
            start = time.time()
            code = subprocess.call(cmd, cwd=ROOT, env=env)
            counts = _counts(junit)
            results[backend] = (code, counts, time.time() - start)
            if code == 5:
                print(f"!!!!! {backend}: pytest collected no tests", flush=True)
            if code != 0:
                status = 1
    print("\n===== summary")
    passed = failed = skipped = 0
    for backend, (code, counts, secs) in results.items():
        if counts:
            f = counts["failures"] + counts["errors"]
            p = counts["tests"] - f - counts["skipped"]
            passed, failed, skipped = passed + p, failed + f, skipped + counts["skipped"]
            line = f"{p} passed, {f} failed, {counts['skipped']} skipped"
        else:
            line = "no results"
        print(f"{backend:>10}: exit {code}, {line}, {secs:.0f} s")
    if status and failed == 0:
        failed = 1  # a backend crashed or collected nothing: never report a clean pass
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
