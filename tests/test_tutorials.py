"""The tutorials run as scripts (fast mode) and as a notebook (jupytext → ipynb → nbclient)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))
# Cheap enough for every backend; the rest train or start processes and run once, on TF.
LIGHT = {"01_depth_and_vanishing_gradients.py"}


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


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=() if p.name in LIGHT else pytest.mark.slow, id=p.stem)
        for p in TUTORIALS
    ],
)
def test_tutorial_runs_as_script(path, tmp_path, backend):
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=_env(backend, MPLBACKEND="Agg"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"backend: {backend}" in proc.stdout or "this process runs on" in proc.stdout


@pytest.mark.slow
def test_tutorial_runs_as_notebook(tmp_path, backend, monkeypatch):
    import nbclient
    import nbformat

    path = next(p for p in TUTORIALS if p.name.startswith("02_"))
    ipynb = tmp_path / (path.stem + ".ipynb")
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "-o", str(ipynb), str(path)],
        check=True,
        timeout=120,
    )
    nb = nbformat.read(ipynb, as_version=4)
    for key, value in _env(backend).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # let the kernel use the inline backend
    # "python3" is the current interpreter's own ipykernel: nothing is registered globally.
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=900, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs)
    assert len(images) >= 5, "the notebook shows its plots and the experiment's figures inline"
    assert "Recommendations" in text
    assert list(tmp_path.glob("runs/activations-*/report.md"))
