"""Keep TensorFlow's C++ start-up lines off the terminal, whoever imports TensorFlow.

TensorFlow 2.21 writes absl/oneDNN/CUDA lines straight to file descriptor 2 while its shared
libraries load (``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000 ...
cudart_stub.cc``, ``cpu_feature_guard``), before ``TF_CPP_MIN_LOG_LEVEL`` can apply. Keras
imports TensorFlow on every backend for some calls (``keras.utils.set_random_seed``, saving), so
a JAX or PyTorch user sees them too. Python's logging cannot reach them, so
:func:`install` puts an import hook on ``sys.meta_path``: the first ``import tensorflow`` runs
with file descriptor 2 redirected to a temporary file, which is replayed only if the import
fails (not when a Ctrl-C interrupts it). Nothing else is hidden: warnings and errors raised
after the import are shown as usual. ``KERASNETS_TF_LOGS=1`` turns the hook off.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import tempfile


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self._loader.exec_module(module)
                # Device discovery prints CUDA lines (E0000 ... cuInit) at the first op; do it
                # now, while the lines are still captured.
                module.config.list_physical_devices()
            except Exception:
                # A failed import: its lines explain it. (A Ctrl-C during the import is no
                # failure to explain, so KeyboardInterrupt and SystemExit replay nothing.)
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                for finder in [f for f in sys.meta_path if isinstance(f, _QuietTensorFlowFinder)]:
                    sys.meta_path.remove(finder)  # TensorFlow is imported: the hook is done


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level ``tensorflow`` package (once)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or "tensorflow" in sys.modules:
            return None
        import importlib.util

        # Find the real spec with this finder out of the way. It goes back in place: a mere
        # availability check (importlib.util.find_spec, as Keras does) imports nothing, and
        # the real import that follows must still be wrapped.
        index = sys.meta_path.index(self)
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(index, self)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Install the hook unless TensorFlow is already imported or ``KERASNETS_TF_LOGS=1``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("KERASNETS_TF_LOGS") == "1" or "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())


class native_output_captured:
    """Keep what native code writes to file descriptors 1 and 2 off the terminal in a block.

    The TFLite converter's calibrator prints ``fully_quantize: 0, inference_type: 6, ...`` and
    LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` from C++, which
    Python cannot redirect any other way. If the block raises, the captured text is written to
    stderr, so nothing that explains a failure is lost.

    Example:
        >>> with native_output_captured():
        ...     _ = os.write(1, b"native chatter\\n")
    """

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(self._file.fileno(), 1)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, exc_type, exc, tb):
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self._saved):
            os.dup2(saved, fd)
            os.close(saved)
        if exc_type is not None and issubclass(exc_type, Exception):  # not for a Ctrl-C
            self._file.seek(0)
            sys.stderr.write(self._file.read().decode(errors="replace"))
        self._file.close()
        return False


class retracing_warnings_off:
    """Silence TensorFlow's Python-side "triggered tf.function retracing" warnings in a block.

    Keras' TensorFlow trainer makes one ``tf.function`` per model, and TensorFlow warns about
    "retracing" once more than five of them (same code, different models) are traced: a
    command that trains many models in turn (the tour, ``kerasnets run``, a search) is
    expected to trace each of them once. No-op on other backends, and errors still show.

    Example:
        >>> with retracing_warnings_off():
        ...     pass
    """

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("tensorflow")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
        return False
