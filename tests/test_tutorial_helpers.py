"""The tutorials' display helpers (kerasnets.plots): inline in a notebook, text and files in a
script. Nothing here needs a backend; the notebook branch runs against a stand-in IPython."""

import os
import subprocess
import sys
import types

import pytest

from kerasnets import plots
from kerasnets.plots import plt


class _Kernel:
    """What an IPython kernel's shell looks like to in_notebook (a ``kernel`` attribute)."""

    kernel = object()


@pytest.fixture
def notebook(monkeypatch):
    """A stand-in IPython kernel: returns the objects passed to IPython.display.display."""
    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: _Kernel()
    display = types.ModuleType("IPython.display")
    display.display = lambda *objs: shown.extend(objs)
    display.Markdown = type(
        "Markdown", (), {"__init__": lambda self, data: setattr(self, "data", data)}
    )
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


@pytest.fixture
def no_ipython(monkeypatch):
    """A script on a machine without IPython: importing it fails."""
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.delitem(sys.modules, "IPython.display", raising=False)


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def test_markdown_table_aligns_numbers_right_and_text_left():
    text = plots.markdown_table(
        [("relu", "12,345", 0.97123, "3%"), ("sigmoid", "7", 0.1, "–")],
        ["activation", "parameters", "accuracy", "dead"],
    )
    assert text.splitlines() == [
        "| activation | parameters | accuracy | dead |",
        "| --- | ---: | ---: | ---: |",
        "| relu | 12,345 | 0.9712 | 3% |",
        "| sigmoid | 7 | 0.1 | – |",
    ]


def test_markdown_table_cells_and_explicit_alignment():
    text = plots.markdown_table([("a|b", None, True, "1.0 ± 0.2")], ["x", "y", "z", "w"], "lcrl")
    assert text.splitlines()[1:] == [
        "| --- | :---: | ---: | --- |",
        r"| a\|b |  | True | 1.0 ± 0.2 |",
    ]
    assert plots.markdown_table([], ["a", "b"]).splitlines()[1] == "| --- | --- |"
    multiline = plots.markdown_table([("two\nlines",)], ["h"])
    assert multiline.splitlines()[-1] == "| two lines |"


def test_markdown_table_refuses_a_ragged_row_or_a_bad_alignment():
    with pytest.raises(ValueError, match="2 cells for 3 headers"):
        plots.markdown_table([(1, 2)], ["a", "b", "c"])
    with pytest.raises(ValueError, match="one of l, r, c per column"):
        plots.markdown_table([(1, 2)], ["a", "b"], align="lx")
    with pytest.raises(ValueError, match="one of l, r, c per column"):
        plots.markdown_table([(1, 2)], ["a", "b"], align="l")


def test_in_notebook_only_with_an_ipython_kernel(monkeypatch, no_ipython):
    assert plots.in_notebook() is False  # IPython not importable
    monkeypatch.delitem(sys.modules, "IPython")
    assert plots.in_notebook() is False  # IPython not imported: a script
    fake = types.ModuleType("IPython")
    monkeypatch.setitem(sys.modules, "IPython", fake)
    for shell, expected in [(None, False), (object(), False), (_Kernel(), True)]:
        fake.get_ipython = lambda shell=shell: shell  # None: plain Python; object(): terminal
        assert plots.in_notebook() is expected

    def broken():
        raise RuntimeError("half-installed IPython")

    fake.get_ipython = broken
    assert plots.in_notebook() is False


def test_in_a_script_tables_are_printed_as_markdown(capsys, no_ipython):
    plots.show_table([("resnet18", "11,689")], ["model", "parameters"])
    plots.show_markdown("## Results\n\n*fine*")
    assert capsys.readouterr().out == (
        "| model | parameters |\n| --- | ---: |\n| resnet18 | 11,689 |\n## Results\n\n*fine*\n"
    )


def test_in_a_notebook_tables_are_markdown_displays(capsys, notebook):
    plots.show_table([("relu", "0.97")], ["activation", "accuracy"])
    plots.show_markdown("**bold**")
    assert [type(o).__name__ for o in notebook] == ["Markdown", "Markdown"]
    assert notebook[0].data == "| activation | accuracy |\n| --- | ---: |\n| relu | 0.97 |"
    assert notebook[1].data == "**bold**"
    assert capsys.readouterr().out == ""


def test_in_a_script_a_figure_is_saved_and_its_path_printed(tmp_path, capsys, no_ipython):
    fig = _figure()
    path = plots.show_figure(fig, "01_example", directory=tmp_path / "figures")
    assert path == tmp_path / "figures" / "01_example.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == f"saved figure: {path}\n"
    assert not plt.fignum_exists(fig.number), "the figure is closed once saved"
    again = plots.show_figure(_figure(), "01_example.png", directory=tmp_path / "figures")
    assert again == path and sorted(p.name for p in path.parent.iterdir()) == ["01_example.png"]


def test_in_a_notebook_a_figure_is_displayed_not_saved(tmp_path, monkeypatch, notebook, capsys):
    monkeypatch.setenv("KERASNETS_FIGURES", str(tmp_path / "figures"))
    fig = _figure()
    assert plots.show_figure(fig, "01_example") is None
    assert notebook == [fig]
    assert not plt.fignum_exists(fig.number), "closed, so the inline backend does not show it twice"
    assert not (tmp_path / "figures").exists() and capsys.readouterr().out == ""


def test_figure_dir_env_then_script_then_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASNETS_FIGURES", str(tmp_path / "chosen"))
    assert plots.figure_dir() == tmp_path / "chosen"
    monkeypatch.delenv("KERASNETS_FIGURES")
    script = types.ModuleType("__main__")
    script.__file__ = str(tmp_path / "tutorials" / "01_x.py")
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert plots.figure_dir() == (tmp_path / "tutorials" / "figures").resolve()
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # a prompt
    monkeypatch.chdir(tmp_path)
    assert plots.figure_dir() == tmp_path.resolve() / "figures"
    path = plots.show_figure(_figure(), "x")
    assert path.resolve() == tmp_path.resolve() / "figures" / "x.png" and path.exists()


def test_a_script_never_imports_ipython(tmp_path):
    code = (
        "import sys\n"
        "from kerasnets.plots import plt, show_figure, show_markdown, show_table\n"
        "show_table([('a', 1)], ['name', 'n'])\n"
        "show_markdown('**done**')\n"
        "fig, ax = plt.subplots()\n"
        "show_figure(fig, 'fig')\n"
        "print('IPython imported:', 'IPython' in sys.modules)\n"
    )
    script = tmp_path / "tutorial.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "KERASNETS_FIGURES"}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [
        "| name | n |",
        "| --- | ---: |",
        "| a | 1 |",
        "**done**",
        f"saved figure: {tmp_path.resolve() / 'figures' / 'fig.png'}",
        "IPython imported: False",
    ]
    assert (tmp_path / "figures" / "fig.png").exists()
