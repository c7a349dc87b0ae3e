"""Build the documentation site into ``site/``: ``python -m kerasnets.docs``.

The site is built with MkDocs and the Material theme (``mkdocs.yml`` at the top of the
repository): the pages are Markdown that students can read on GitHub too, the tutorials are
rendered by mkdocs-jupyter, the API reference by mkdocstrings from the docstrings (read
statically by griffe: no backend is imported to document it), and the client-side search needs
no server. Sphinx with jupyter-book does the same jobs with reStructuredText and more
configuration; MkDocs keeps every page plain Markdown.

One build:

1. copies the hand-written pages of ``docs/`` into a staging directory;
2. writes the CLI reference from the argparse parsers (:func:`kerasnets.cli.build_parser`);
3. executes each tutorial (``tutorials/NN_*.py``, jupytext percent format) as a notebook with
   nbclient in fast mode (``KERASNETS_FAST=1``) on the current backend, with a note saying so
   at its top; a failing cell fails the build;
4. runs each experiment (:func:`kerasnets.experiments.run_experiment`, one seed, fast mode)
   and takes its ``report.md`` and figures as a page;
5. runs ``mkdocs build --strict`` on it (a broken link or a warning fails the build) into a
   temporary directory, which then replaces ``site/``.

Example:
    >>> from kerasnets.docs import build
    >>> build("site")  # doctest: +SKIP
    PosixPath('site')

From a shell: ``python -m kerasnets.docs`` (``--help`` for the options), then open
``site/index.html`` or serve it: ``python -m http.server -d site``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST_NOTE = (  # a blockquote: the notebooks are rendered by nbconvert, without admonitions
    "> **Executed in fast mode.** This page is the tutorial `tutorials/{name}` executed when the "
    "site was built, on the **{backend}** backend with `KERASNETS_FAST=1`: small data and few "
    "epochs, so that the whole site builds in minutes. The numbers are from that short run; run "
    "the tutorial without `KERASNETS_FAST` for the full one."
)


def tutorial_paths(root=ROOT) -> list[Path]:
    """The tutorials, in order: ``tutorials/NN_*.py``."""
    return sorted((Path(root) / "tutorials").glob("[0-9][0-9]_*.py"))


def _select(names, available, what):
    """The entries of ``available`` (name -> value) picked by ``names`` (None: all)."""
    if names is None:
        return dict(available)
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    unknown = [n for n in names if not any(key.startswith(n) for key in available)]
    if unknown:
        raise ValueError(
            f"unknown {what} {unknown[0]!r}; choose from {', '.join(sorted(available))}"
        )
    return {key: value for key, value in available.items() if any(key.startswith(n) for n in names)}


def cli_reference() -> str:
    """The CLI reference page: the ``--help`` of ``kerasnets`` and of every subcommand."""
    from kerasnets.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width: fix it
    try:
        parser = build_parser()
        lines = [
            "# Command-line reference",
            "",
            "Generated from the argparse parsers of `kerasnets` (`kerasnets.cli.build_parser()`) "
            "when this site was built: it is exactly what `--help` prints.",
            "",
            "## kerasnets",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
        ]
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for name, sub in subparsers.choices.items():
            lines += ["", f"## kerasnets {name}", "", "```text", sub.format_help().rstrip(), "```"]
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines) + "\n"


def execute_tutorial(path, out_ipynb, work_dir, timeout=1800) -> Path:
    """Execute the tutorial ``path`` as a notebook in ``work_dir`` (fast mode, current backend)
    and write it, outputs and a fast-mode note included, to ``out_ipynb``.

    Raises ``RuntimeError`` naming the tutorial if a cell fails.
    """
    import jupytext
    import keras
    import nbclient
    import nbformat

    path = Path(path)
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    env = {
        "KERASNETS_FAST": "1",
        "KERAS_BACKEND": keras.backend.backend(),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    saved = {key: os.environ.get(key) for key in [*env, "MPLBACKEND"]}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend shows the figures
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    try:
        client = nbclient.NotebookClient(
            nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": work_dir}}
        )
        client.execute()
    except Exception as error:
        message = f"tutorial {path.name} failed while building the docs: {error}"
        raise RuntimeError(message) from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    note = FAST_NOTE.format(name=path.name, backend=env["KERAS_BACKEND"])
    first = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    nb.cells.insert(first, nbformat.v4.new_markdown_cell(note))
    nbformat.write(nb, str(out_ipynb))
    return Path(out_ipynb)


def _report_page(name, run_dir: Path) -> None:
    """Give the experiment's ``report.md`` a title and a note on how it was produced."""
    report = run_dir / "report.md"
    text = report.read_text(encoding="utf-8")
    note = (
        f'!!! note "Fast mode"\n    Produced when this site was built by `kerasnets run {name} '
        "--seeds 1` in fast mode (`KERASNETS_FAST=1`): one seed, small data, few epochs. Run it "
        "without fast mode and with more seeds for the numbers that carry weight.\n\n"
    )
    if not text.lstrip().startswith("# "):
        text = f"# Experiment: {name}\n\n" + text
    head, _, rest = text.partition("\n")
    report.write_text(f"{head}\n\n{note}{rest}", encoding="utf-8")


def _check_out(out: Path) -> None:
    if out.exists() and not (out.is_dir() and (out / "index.html").exists()):
        raise ValueError(
            f"out {str(out)!r} exists and is not a built site (no index.html): "
            "give a new directory or a previous site/"
        )


def build(
    out="site",
    *,
    tutorials=None,
    experiments=None,
    strict=True,
    config=None,
    verbose=True,
) -> Path:
    """Build the documentation site into ``out`` and return its path.

    Args:
        out: the site directory (replaced if it holds a previous build; refused if it is
            something else).
        tutorials: tutorial numbers or name prefixes to execute (``["01", "02"]`` or
            ``"01,02"``); default all. The others get no page.
        experiments: experiment names to run for the reports (default all; ``[]`` none).
        strict: fail on any MkDocs warning (broken link, missing page), as CI builds it.
        config: the ``mkdocs.yml`` (default: the repository's).
        verbose: print a line per step.

    Raises:
        ValueError: an unknown tutorial or experiment, or an ``out`` that is not a site —
            before any work.
        RuntimeError: a tutorial failed, or MkDocs refused the site in strict mode.
    """
    from kerasnets import experiments as experiments_module

    out = Path(out)
    _check_out(out)
    config = Path(config) if config is not None else ROOT / "mkdocs.yml"
    if not config.is_file():
        raise ValueError(f"config {str(config)!r} is not a file (the mkdocs.yml)")
    chosen = _select(tutorials, {p.stem: p for p in tutorial_paths()}, "tutorial")
    names = experiments_module.available()
    chosen_experiments = list(_select(experiments, {n: n for n in names}, "experiment"))
    say = print if verbose else (lambda *a, **k: None)

    with tempfile.TemporaryDirectory(prefix="kerasnets-docs-") as tmp:
        tmp = Path(tmp)
        staging = tmp / "docs"
        shutil.copytree(ROOT / "docs", staging)
        (staging / "cli.md").write_text(cli_reference(), encoding="utf-8")
        (staging / "tutorials").mkdir(exist_ok=True)
        for stem, path in chosen.items():
            start = time.time()
            execute_tutorial(path, staging / "tutorials" / f"{stem}.ipynb", tmp / "work" / stem)
            say(f"tutorial {path.name}: executed in {time.time() - start:.0f} s")
        (staging / "reports").mkdir(exist_ok=True)
        for name in chosen_experiments:
            start = time.time()
            run_dir = staging / "reports" / name
            experiments_module.run_experiment(name, seeds=1, fast=True, out=run_dir, verbose=0)
            _report_page(name, run_dir)
            say(f"experiment {name}: run in {time.time() - start:.0f} s")
        _write_indexes(staging, chosen, chosen_experiments)
        site = tmp / "site"
        _mkdocs_build(config, staging, site, strict, _nav(config, chosen, chosen_experiments))
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(site), str(out))
    say(f"site built: {out}/index.html (serve it: python -m http.server -d {out})")
    return out


def _write_indexes(staging: Path, tutorials: dict, experiments: list) -> None:
    """The tutorials' and reports' index pages, listing what this build executed."""
    lines = [
        "# Tutorials",
        "",
        "Notebooks kept as jupytext percent-format scripts in `tutorials/`; each runs as a "
        "script or in Jupyter/Colab. The pages below were **executed in fast mode** "
        "(`KERASNETS_FAST=1`) when this site was built, with their figures inline.",
        "",
    ]
    lines += [f"- [{stem}]({stem}.ipynb)" for stem in tutorials] or ["(none in this build)"]
    (staging / "tutorials" / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [
        "# Experiment reports",
        "",
        "The lecture's hands-on projects as experiments (`kerasnets run NAME`), each run with "
        "one seed **in fast mode** when this site was built. A full run (`kerasnets run NAME "
        "--seeds 3`) gives the error bars that carry weight.",
        "",
    ]
    lines += [f"- [{n}]({n}/report.md)" for n in experiments] or ["(none in this build)"]
    (staging / "reports" / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _nav(config: Path, tutorials: dict, experiments: list) -> list:
    """The ``nav`` of ``mkdocs.yml`` with its ``tutorials/`` and ``reports/`` entries listing
    the pages this build made."""
    import yaml

    nav = yaml.safe_load(config.read_text(encoding="utf-8"))["nav"]
    generated = {
        "tutorials/": [{"Overview": "tutorials/index.md"}]
        + [{stem: f"tutorials/{stem}.ipynb"} for stem in tutorials],
        "reports/": [{"Overview": "reports/index.md"}]
        + [{name: f"reports/{name}/report.md"} for name in experiments],
    }
    return [
        {title: generated.get(page, page)} if isinstance(page, str) else {title: page}
        for entry in nav
        for title, page in entry.items()
    ]


def _mkdocs_build(config: Path, docs_dir: Path, site_dir: Path, strict: bool, nav) -> None:
    import logging

    from mkdocs import exceptions
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    class Collect(logging.Handler):  # the warnings, to say why strict mode refused the site
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    def real_reference(record):
        # Doctest lines such as `>>> events[0]["kind"]` read as Markdown reference links
        # `[0]["kind"]` to autorefs; a real cross-reference is a dotted Python name.
        match = re.search(r"Could not find cross-reference target '(.*)'$", record.getMessage())
        return match is None or re.fullmatch(r"[A-Za-z_][\w.]*", match.group(1)) is not None

    collect = Collect()
    logger = logging.getLogger("mkdocs")
    logger.setLevel(logging.INFO)
    logger.addHandler(collect)
    autorefs = logging.getLogger("mkdocs.plugins.mkdocs_autorefs._internal.plugin")
    autorefs.addFilter(real_reference)
    cfg = load_config(
        config_file=str(config),
        docs_dir=str(docs_dir),
        site_dir=str(site_dir),
        strict=strict,
        nav=nav,
    )
    try:
        mkdocs_build(cfg)
    except exceptions.Abort as error:
        first = "; ".join(collect.messages[:8])
        raise RuntimeError(f"mkdocs refused the site (strict mode): {error} {first}") from None
    finally:
        logger.removeHandler(collect)
        autorefs.removeFilter(real_reference)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kerasnets.docs",
        description="Build the documentation site (MkDocs, strict mode) with the tutorials "
        "executed in fast mode and the experiment reports.",
    )
    parser.add_argument("--out", default="site", help="site directory (default: site)")
    parser.add_argument(
        "--tutorials",
        help="comma-separated tutorial numbers to execute (default: all; 'none' for none)",
    )
    parser.add_argument(
        "--experiments",
        help="comma-separated experiments to report (default: all; 'none' for none)",
    )
    parser.add_argument("--no-strict", action="store_true", help="do not fail on MkDocs warnings")
    args = parser.parse_args(argv)
    tutorials = [] if args.tutorials == "none" else args.tutorials
    experiments = [] if args.experiments == "none" else args.experiments
    try:
        build(
            args.out,
            tutorials=tutorials,
            experiments=experiments,
            strict=not args.no_strict,
        )
    except (ValueError, RuntimeError) as error:
        print(f"python -m kerasnets.docs: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    except KeyboardInterrupt:
        print("python -m kerasnets.docs: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
