"""The documentation site: built in strict mode, then loaded in headless Chromium.

The build executes one tutorial (the light one) so that it fits the suite's time; CI builds the
whole site once with ``python -m kerasnets.docs``. The browser test needs Debian's ``chromium``
(``apt-get install -y chromium``) and the ``playwright`` package; it saves a screenshot of the
tutorial page to ``build/test-artifacts/docs-tutorial.png``.
"""

import argparse
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from kerasnets import docs

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
TUTORIAL = "01_depth_and_vanishing_gradients"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    out = tmp_path_factory.mktemp("docs") / "site"
    docs.build(out, tutorials=[TUTORIAL[:2]], experiments=[], verbose=False)
    return out


def test_bad_arguments_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown tutorial '99'.*01_depth"):
        docs.build(tmp_path / "site", tutorials="99")
    with pytest.raises(ValueError, match="unknown experiment 'nope'.*activations"):
        docs.build(tmp_path / "site", tutorials=[], experiments=["nope"])
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a built site"):
        docs.build(tmp_path / "notes", tutorials=[], experiments=[])
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "site").exists()


def test_cli_reference_is_every_parsers_help():
    from kerasnets.cli import build_parser

    page = docs.cli_reference()
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in commands.choices:
        assert f"## kerasnets {name}\n" in page
    assert "usage: kerasnets tour" in page and "--json" in page


@pytest.mark.slow
def test_site_has_every_part(site):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    for page in (
        "index.html",
        "getting-started.html",
        "lecture/part1-depth.html",
        "lecture/part2-activations.html",
        "lecture/part3-architectures.html",
        "tensorboard.html",
        f"tutorials/{TUTORIAL}.html",
        "reports/index.html",
        "cli.html",
        "api/callbacks.html",
    ):
        assert page in pages, page
    tutorial = (site / f"tutorials/{TUTORIAL}.html").read_text()
    assert "Executed in fast mode." in tutorial and "data:image/png;base64" in tutorial
    api = (site / "api/callbacks.html").read_text()
    assert "DeadNeuronMonitor" in api and "log_dir" in api  # from the docstrings
    assert "usage: kerasnets export" in (site / "cli.html").read_text()


@pytest.mark.slow
def test_site_in_headless_chromium(site):
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(site),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    profile = site.parent / "chromium-profile"
    try:
        with playwright.sync_playwright() as p:
            # A fresh profile directory (Playwright passes it as --user-data-dir).
            browser = p.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                args=FLAGS,
                viewport={"width": 1280, "height": 900},
            )
            page = browser.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{base}/index.html", wait_until="networkidle")
            assert "kerasnets" in page.title()
            # The search finds the lecture page on dead neurons.
            page.keyboard.press("s")  # Material's shortcut: focus the search box
            # Typed key by key: Material's search listens to key events, not to fill().
            search = page.locator("input.md-search__input")
            search.press_sequentially("dead neurons", delay=30)
            page.wait_for_selector(".md-search-result__item", timeout=30_000)
            results = page.inner_text(".md-search-result__list").lower()
            assert "dead" in results and "neurons" in results

            page.goto(f"{base}/tutorials/{TUTORIAL}.html", wait_until="networkidle")
            sizes = page.eval_on_selector_all(
                "img[src^='data:image/png']",
                "imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width])",
            )
            assert len(sizes) >= 2, "the tutorial's figures are inline"
            assert all(natural > 0 and shown > 0 for natural, shown in sizes), sizes
            page.locator("img[src^='data:image/png']").first.scroll_into_view_if_needed()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "docs-tutorial.png"), full_page=False)
            browser.close()
        assert errors == [], errors
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
