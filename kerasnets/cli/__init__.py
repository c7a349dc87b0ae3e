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


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow (if installed) with its C++ start-up lines kept off the terminal.

    TensorFlow 2.21 writes absl lines to file descriptor 2 at import, before
    ``TF_CPP_MIN_LOG_LEVEL`` applies; Keras imports it on every backend (random seeding, saving).
    What it writes is shown only if the import fails.
    """
    import importlib.util
    import tempfile

    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except Exception:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kerasnets`` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _select_backend(args.backend)
        _import_tensorflow_quietly()
        status = args.func(args)
    except UsageError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        # Library validation errors name the bad value and the allowed ones.
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kerasnets {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


def print_json(data) -> None:
    """Print ``data`` as JSON (numpy values converted) to stdout."""
    from kerasnets.io import to_json

    sys.stdout.write(to_json(data))
