"""The ``kerasnets`` command.

The CLI is thin: each subcommand parses its arguments, calls one library function and renders
the result (a table, a plot, or JSON with ``--json``). Subcommands live in the modules of this
package; each module has ``register(subparsers)`` and is found automatically, so adding a
command never means editing this file. Modules must not import Keras at module level: the
backend is chosen by ``--backend`` (or ``KERAS_BACKEND``) *before* Keras is imported.

Errors a user can fix (bad arguments, missing files, unknown names) exit with status 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

BACKENDS = ("tensorflow", "jax", "torch")


class UsageError(Exception):
    """An error in what the user asked for; the CLI prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit with status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_at_least(minimum: int):
    """An argparse ``type`` accepting integers >= ``minimum`` (one-line error otherwise)."""
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


def _subcommand_modules():
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    modules = [importlib.import_module(f"{__name__}.{name}") for name in names]
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kerasnets",
        description="Deep-network architecture patterns in Keras 3 on TensorFlow, JAX and "
        "PyTorch: a model zoo, training diagnostics, compression and TFLite export.",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend for this command (default: $KERAS_BACKEND, else tensorflow)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error instead of one line",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in _subcommand_modules():
        module.register(sub)
    return parser


def _select_backend(name: str | None) -> None:
    if name is None:
        name = os.environ.get("KERAS_BACKEND")
        if name is not None and name not in BACKENDS:
            raise UsageError(
                f"KERAS_BACKEND={name!r} is not supported; use one of {', '.join(BACKENDS)}"
            )
        return
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != name:
        raise UsageError(f"cannot switch to backend {name!r}: Keras is already imported")
    os.environ["KERAS_BACKEND"] = name


def _is_input_error(err: BaseException) -> bool:
    """Is ``err`` an error about what the user gave (shown as one line), not a bug?

    Validation errors of kerasnets and of the libraries it calls (``ValueError``), file-system
    errors (``OSError``: missing, existing, unreadable or unwritable paths), kerasnets' own
    error classes (an unavailable dataset, a failed conversion), and ``TypeError`` raised
    explicitly by kerasnets' argument checks. Anything else is a bug and keeps its traceback.
    """
    if isinstance(err, (UsageError, ValueError, OSError)):
        return True
    if type(err).__module__.startswith("kerasnets."):
        return True
    if isinstance(err, TypeError):
        tb = err.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return False
        import linecache

        frame = tb.tb_frame
        line = linecache.getline(frame.f_code.co_filename, tb.tb_lineno).strip()
        return frame.f_globals.get("__name__", "").startswith("kerasnets") and line.startswith(
            "raise"
        )
    return False


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def _interrupt_main_soon():
    import _thread
    import time

    time.sleep(0.01)
    _thread.interrupt_main()


class _Interrupts:
    """One Ctrl-C stops any command: exit 130 with one line.

    Python delivers SIGINT as ``KeyboardInterrupt`` wherever the main thread happens to be; if
    that is inside a weakref callback or a ``__del__`` (Keras and TensorFlow run many), Python
    reports it as "Exception ignored" through ``sys.unraisablehook`` and carries on, so the
    first Ctrl-C could be lost. The hook installed here delivers such a swallowed interrupt
    again, in ordinary code. Once it is handled, further Ctrl-C are ignored while the command
    prints its line and exits.
    """

    def install(self):
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        previous = sys.unraisablehook

        def redeliver(unraisable):
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                # Raised again from another thread once this hook has returned: raised here,
                # it would be swallowed by the hook machinery in turn. Swallowed once more
                # (the main thread in another callback), it comes back here and is redelivered
                # again; once handled(), SIGINT is ignored and interrupt_main does nothing.
                threading.Thread(target=_interrupt_main_soon, daemon=True).start()
                return
            previous(unraisable)

        sys.unraisablehook = redeliver

    @staticmethod
    def handled():
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kerasnets`` console script; returns the exit status.

    Errors in what the user asked for (bad options, missing or unreadable files, data that
    does not fit) print one line on stderr and exit 2; ``--debug`` shows their traceback
    instead. Ctrl-C prints one line and exits 130.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import kerasnets  # noqa: F401  (keeps TensorFlow's C++ start-up lines off the terminal)
    from kerasnets import _quiet

    parser = build_parser()
    args = parser.parse_args(argv)
    interrupts = _Interrupts()
    interrupts.install()
    try:
        _select_backend(args.backend)
        # Commands train many models in turn, one tf.function each: expected, not a hint.
        with _quiet.retracing_warnings_off():
            status = args.func(args)
    except KeyboardInterrupt:
        interrupts.handled()
        print(f"kerasnets {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug or not _is_input_error(err):
            raise
        print(f"kerasnets {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    return int(status or 0)


def print_json(data) -> None:
    """Print ``data`` as JSON (numpy values converted) to stdout."""
    from kerasnets.io import to_json

    sys.stdout.write(to_json(data))
