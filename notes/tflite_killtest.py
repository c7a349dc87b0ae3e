"""Time from a SIGKILL of a converting process to the death of its TensorFlow child.

Run from the repository root: ``PYTHONPATH=. python notes/tflite_killtest.py jax`` (or torch).
It starts ``tflite.convert`` in a process on that backend, waits until the converter child runs,
kills the parent with SIGKILL, and prints how long the child outlived it and what the next run's
clean-up removes.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_tflite_bundle import _alive, _children  # noqa: E402

from kerasnets.tflite import remove_stale_work_dirs  # noqa: E402

CODE = (
    "import keras\nfrom kerasnets import tflite\ni = keras.Input((4,))\n"
    "tflite.convert(keras.Model(i, keras.layers.Dense(2)(i)), 'never.tflite')\n"
)


def main(backend):
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, KERAS_BACKEND=backend, TMPDIR=str(tmp), TF_CPP_MIN_LOG_LEVEL="3")
    parent = subprocess.Popen(
        [sys.executable, "-c", CODE], cwd=tmp, env=env, stderr=subprocess.DEVNULL
    )
    while not (_children(parent.pid) and list(tmp.glob("kerasnets-tflite-*/spec.json"))):
        time.sleep(0.05)
    (child,) = _children(parent.pid)
    time.sleep(1.0)
    start = time.monotonic()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    while _alive(child):
        time.sleep(0.001)
    elapsed_ms = 1000 * (time.monotonic() - start)
    left = sorted(p.name for p in tmp.iterdir())
    print(f"{backend}: child gone {elapsed_ms:.1f} ms after the parent's SIGKILL; left: {left}")
    removed = remove_stale_work_dirs(tmp)
    print(f"next run removes: {removed}; left: {sorted(p.name for p in tmp.iterdir())}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "jax")
