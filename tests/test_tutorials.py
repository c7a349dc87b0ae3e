"""The tutorials run as scripts (fast mode: Markdown tables on stdout, figures saved as PNGs) and
as notebooks (jupytext → ipynb → nbclient: tables and figures inline)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))
# Cheap enough for every backend; the rest train or start processes and run once, on TF.
LIGHT = {"01_depth_and_vanishing_gradients.py"}
# A Markdown table's rule line (``| --- | ---: |``, ``|---|---|``).
TABLE_RULE = re.compile(r"^\|(?: ?:?-{3,}:? ?\|)+$", re.MULTILINE)


def _env(backend, **extra):
    env = dict(os.environ, KERAS_BACKEND=backend, KERASNETS_FAST="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.update(extra)
    return env


def test_tutorials_are_percent_notebooks_with_prose():
    import jupytext

    assert [p.name[:2] for p in TUTORIALS] == ["01", "02", "03", "04", "05", "06", "07", "08"]
    for path in TUTORIALS:
        nb = jupytext.read(path)
        kinds = [cell.cell_type for cell in nb.cells]
        assert kinds[0] == "markdown" and kinds[-1] == "markdown", path.name
        assert kinds.count("markdown") >= 3 and kinds.count("code") >= 2, path.name


def test_every_tutorial_ends_with_exercises_whose_solutions_are_tests():
    """The last cell is "## Exercises" with two or more numbered exercises, and the tests it
    names as reference solutions exist."""
    import jupytext

    tests = Path(__file__).resolve().parent
    for path in TUTORIALS:
        last = jupytext.read(path).cells[-1].source
        assert last.startswith("## Exercises"), path.name
        assert len(re.findall(r"^\d+\. \*\*", last, re.M)) >= 2, path.name
        text = last.replace("\n", " ")
        file = re.search(r"`(tests/test_\w+\.py)`", text)
        prefix = re.search(r"`(test_\w+?)_?\*`", text)
        assert file and prefix, f"{path.name}: no reference solutions named"
        prefix, file = prefix.group(1), tests.parent / file.group(1)
        assert re.search(rf"^def {prefix}", file.read_text(), re.M), (path.name, prefix)


def test_tutorials_start_with_the_same_setup_cell():
    import jupytext

    firsts = set()
    for path in TUTORIALS:
        code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
        firsts.add(code[0])
        assert not re.search(r"^(import|from) (keras|tensorflow)\b", code[0], re.M), path.name
        for repeated in ("import os", "TF_CPP_MIN_LOG_LEVEL", "import kerasnets\n"):
            assert repeated not in code[1], (path.name, repeated)
    assert len(firsts) == 1, "every tutorial has the same first code cell"
    (setup,) = firsts
    assert "KERASNETS_SOURCE" in setup and '"pip", "install"' in setup
    # The quiet-TensorFlow hook goes in before anything imports Keras or TensorFlow.
    assert setup.rstrip().splitlines()[-1].startswith("import kerasnets")


def test_tutorials_show_tables_and_figures_through_the_helpers():
    for path in TUTORIALS:
        source = path.read_text(encoding="utf-8")
        assert "show_table(" in source or "show_markdown(" in source, path.name
        assert "plt.show()" not in source, f"{path.name}: figures go through show_figure"
        assert "IPython" not in source, f"{path.name}: a script must not need IPython"
        assert not re.search(r"print\(report\[", source), f"{path.name}: show_markdown(report...)"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=() if p.name in LIGHT else pytest.mark.slow, id=p.stem)
        for p in TUTORIALS
    ],
)
def test_tutorial_runs_as_script(path, tmp_path, backend):
    figures = tmp_path / "figures"  # not tutorials/figures/ in the checkout
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=_env(backend, MPLBACKEND="Agg", KERASNETS_FIGURES=str(figures)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"backend: {backend}" in proc.stdout or "this process runs on" in proc.stdout
    assert TABLE_RULE.search(proc.stdout), "tables are printed as Markdown"
    saved = re.findall(r"^saved figure: (.+)$", proc.stdout, re.MULTILINE)
    assert len(saved) == path.read_text(encoding="utf-8").count("show_figure(")
    for name in saved:
        assert Path(name).parent == figures and Path(name).name.startswith(path.name[:3]), name
        assert Path(name).stat().st_size > 0, name


def _run_notebook(path, tmp_path, backend, monkeypatch):
    """Execute the tutorial as a notebook in ``tmp_path``; return its code cells' outputs."""
    import nbclient
    import nbformat

    ipynb = tmp_path / (path.stem + ".ipynb")
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "-o", str(ipynb), str(path)],
        check=True,
        timeout=120,
    )
    nb = nbformat.read(ipynb, as_version=4)
    # KERASNETS_FIGURES: where a figure would land if the kernel took itself for a script.
    for key, value in _env(backend, KERASNETS_FIGURES=str(tmp_path / "figures")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # let the kernel use the inline backend
    # "python3" is the current interpreter's own ipykernel: nothing is registered globally.
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _markdown(outputs):
    return [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]


def test_tutorial_01_in_a_notebook_shows_tables_and_figures_inline(tmp_path, backend, monkeypatch):
    path = next(p for p in TUTORIALS if p.name.startswith("01_"))
    outputs = _run_notebook(path, tmp_path, backend, monkeypatch)
    tables = [m for m in _markdown(outputs) if TABLE_RULE.search(m)]
    assert len(tables) == 2 and "mean σ′" in tables[0] and "first / last" in tables[1]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "both figures inline, each once"
    text = "".join(o.get("text", "") for o in outputs)
    assert "saved figure" not in text and not TABLE_RULE.search(text)
    assert not (tmp_path / "figures").exists(), "a notebook saves no figure files"


@pytest.mark.slow
def test_tutorial_runs_as_notebook(tmp_path, backend, monkeypatch):
    path = next(p for p in TUTORIALS if p.name.startswith("02_"))
    outputs = _run_notebook(path, tmp_path, backend, monkeypatch)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5, "the notebook shows its plots and the experiment's figures inline"
    markdown = "".join(_markdown(outputs))
    assert "Recommendations" in markdown and TABLE_RULE.search(markdown)
    assert list(tmp_path.glob("runs/activations-*/report.md"))
