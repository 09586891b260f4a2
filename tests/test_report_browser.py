"""Renders the weekly report and a scorecard in headless Chromium at desktop and phone width.

CI installs chromium; where it is absent these tests skip and say so. They check that the pages
render to an image of the asked size and that nothing overflows sideways at phone width (tables
and charts scroll inside their own boxes), which is where a report's layout usually breaks.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from auditor.report import build_weekly_report
from auditor.store import open_store

from .report_support import build_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# In CI a missing browser is a failure (the tests run and say why), never a silent skip.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install -y chromium); CI installs it",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# A probe appended to a copy of the page (the report itself has no script): it records whether
# the document is wider than the window, i.e. whether the reader would have to scroll sideways.
PROBE = (
    "<script>document.body.setAttribute('data-overflow', String("
    "document.documentElement.scrollWidth > window.innerWidth + 1));"
    "document.body.setAttribute('data-width', String(document.documentElement.scrollWidth));"
    "</script></body>"
)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser")
    store = open_store(root / "db" / "auditor.db")
    build_store(store, root / "calls" / "audio")
    result = build_weekly_report(store, root / "out", week="2026-W47")
    return {"weekly": result.weekly_path, "scorecard": result.scorecard_paths["bad_wang"]}


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("page", ["weekly", "scorecard"])
@pytest.mark.parametrize("width", [1280, 390])
def test_page_renders_to_a_screenshot(
    pages: dict[str, Path], tmp_path: Path, page: str, width: int
) -> None:
    shot = tmp_path / f"{page}-{width}.png"
    run = _chromium(f"--screenshot={shot}", f"--window-size={width},2000", pages[page].as_uri())
    assert shot.is_file(), run.stderr[-2000:]
    assert _png_size(shot) == (width, 2000)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kilobytes


@pytest.mark.parametrize("page", ["weekly", "scorecard"])
@pytest.mark.parametrize("width", [1280, 390])
def test_page_does_not_overflow_sideways(
    pages: dict[str, Path], tmp_path: Path, page: str, width: int
) -> None:
    probe = pages[page].parent / f"probe-{page}-{width}.html"
    probe.write_text(
        pages[page].read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8"
    )
    try:
        run = _chromium("--dump-dom", f"--window-size={width},2000", probe.as_uri())
    finally:
        probe.unlink()
    found = re.search(r'data-overflow="(true|false)" data-width="(\d+)"', run.stdout)
    assert found, run.stderr[-2000:]
    assert found.group(1) == "false", f"{page} is {found.group(2)} px wide in a {width} px window"
    assert "<table" in run.stdout  # the page parsed into its tables, not an error page
