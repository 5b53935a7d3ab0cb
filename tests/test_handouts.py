"""Handouts: `report --html/--svg` (opened in headless Chromium, a screenshot kept) and F12 in the
TUI (the screen as valid SVG)."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import run_cli

SVG = "{http://www.w3.org/2000/svg}svg"


def _chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)


def test_report_html_and_svg_open_with_tables_and_plots(tmp_path):
    db = str(tmp_path / "runs.db")
    a = json.loads(run_cli("eval", "--backend", "canonical", "-p", "0-2", "-n", "3", "--db", db, "--json").stdout)
    b = json.loads(run_cli("eval", "--backend", "canonical", "-p", "0-2", "-n", "3", "--db", db, "--json").stdout)
    html, svg = tmp_path / "report.html", tmp_path / "report.svg"
    result = run_cli("report", a["run_id"], "--compare", b["run_id"], "--db", db, "--no-bleu", "--html", str(html), "--svg", str(svg))
    assert result.returncode == 0, result.stderr
    assert f"wrote {html}" in result.stderr and "pass@3" in result.stdout
    assert ET.parse(svg).getroot().tag == SVG
    text = html.read_text()
    assert "pass@3" in text and "B - A, paired" in text and "pass@k (%) vs k" in text  # tables and the plot
    bad = run_cli("report", a["run_id"], "--db", db, "--html", str(tmp_path / "nowhere" / "r.html"))
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [f"error: cannot write {tmp_path / 'nowhere' / 'r.html'}: folder {tmp_path / 'nowhere'} does not exist"]

    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium here (apt-get install -y chromium): the HTML was checked as text only")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "pass@3" in dom.stdout and "only A" in dom.stdout and "pass@k (%) vs k" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1100,1400", html.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"report screenshot: {shot}")


def test_f12_saves_the_screen_as_valid_svg(tmp_path):
    pytest.importorskip("textual")
    from tui_helpers import async_test, make_app

    @async_test
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f12")
            await pilot.pause()
            assert app.last_svg is not None and app.last_svg.parent.name == "screenshots"
            root = ET.parse(app.last_svg).getroot()
            assert root.tag == SVG and "HumanEval/0" in "".join(root.itertext()).replace("\xa0", " ")

    scenario()
