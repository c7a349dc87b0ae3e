"""The README's code runs as written: every Python block, and every ``kerasnets`` command line.

Python blocks run in a fresh process each, in an empty directory, on this test's backend (once,
on TensorFlow: they train small models and build a ResNet-50). Command lines in bash blocks are
parsed by the real argument parser, so a renamed command or option in the README fails here.
"""

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language):
    text = README.read_text()
    return [
        (text[: m.start()].count("\n") + 2, m.group(1))
        for m in re.finditer(rf"```{language}\n(.*?)```", text, flags=re.S)
    ]


PYTHON_BLOCKS = _blocks("python")


def test_readme_has_python_and_bash_blocks():
    assert len(PYTHON_BLOCKS) >= 4
    assert len(_blocks("bash")) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("line,code", PYTHON_BLOCKS, ids=[f"line{n}" for n, _ in PYTHON_BLOCKS])
def test_python_block_runs_as_written(line, code, backend, in_backend, tmp_path):
    in_backend(backend, code, cwd=tmp_path)


def _kerasnets_commands():
    commands = []
    for line, block in _blocks("bash"):
        for offset, raw in enumerate(block.splitlines()):
            text = raw.split(" #")[0].strip()
            for part in re.split(r"&&|;", text):
                words = shlex.split(part)
                while words and "=" in words[0] and not words[0].startswith("-"):
                    words = words[1:]  # environment assignments such as KERAS_BACKEND=jax
                if words[:1] == ["kerasnets"]:
                    commands.append((line + offset, words[1:]))
    return commands


COMMANDS = _kerasnets_commands()


def test_readme_shows_commands():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("line,argv", COMMANDS, ids=[f"line{n}" for n, _ in COMMANDS])
def test_kerasnets_command_in_readme_parses(line, argv):
    from kerasnets.cli import build_parser

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on an unknown command or option
        pytest.fail(f"README line {line}: `kerasnets {' '.join(argv)}` does not parse ({exit_})")
    assert callable(args.func)
