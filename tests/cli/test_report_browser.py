"""report.html renders in a real (headless Chromium) browser: every figure visible, no console errors.

Needs Debian's ``chromium`` (installed by .ci/run) and the ``playwright`` Python package (test extra);
skipped with a reason when either is missing. The screenshot is kept in ``test-artifacts/``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens.cli.main import app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


REQUIRED = os.environ.get("SPINLENS_REQUIRE_BROWSER") == "1"  # set by .ci/run once chromium is installed


@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="Debian package 'chromium' is not installed")
def test_report_renders_in_headless_chromium(tmp_path) -> None:
    assert CHROMIUM is not None, "SPINLENS_REQUIRE_BROWSER=1 but chromium is not on PATH"
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "run"
    # the flagship report (several sections and figures) on a tiny network trained for a few steps
    r = CliRunner().invoke(app, ["phases", "--out", str(out), "--dataset", "digits", "--n-samples", "400",
                                 "--widths", "64,24,10", "--steps", "30", "--n-checkpoints", "5", "--n-starts", "3",
                                 "--tap-checkpoints", "2", "--lr", "0.1"])
    assert r.exit_code == 0, r.output
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        sizes = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight,"
            " i.getBoundingClientRect().width, i.getBoundingClientRect().height])"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert len(sizes) >= 2
    for complete, nw, nh, w, h in sizes:
        assert complete and nw > 0 and nh > 0 and w > 0 and h > 0
    assert errors == []
