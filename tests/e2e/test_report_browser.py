"""The report as a reader sees it: a real headless Chromium (Debian's) opens the files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, sync_playwright

from tests.e2e import signing
from tests.e2e.conftest import DrillLab

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser.new_page(viewport={"width": 1100, "height": 1400})
        browser.close()


def open_file(page: Page, path: Path) -> list[str]:
    """Load a report; return every URL the page requested."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return requests


def fits_the_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def keep_for_readme(path: Path, name: str) -> None:
    """DRTESTS_UPDATE_DOCS=1 refreshes the README's screenshots from this run."""
    if os.environ.get("DRTESTS_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / name)


def box(page: Page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def assert_reads_well(page: Page) -> None:
    """What a reader sees in the failing report: values under their headings, what differs
    before what passed, words instead of Python."""
    heading = box(page, "h2:text('Phases') + div table th:nth-child(3)")
    assert page.locator("h2:text('Phases') + div table th:nth-child(3)").inner_text() == "duration"
    for cell in page.locator("h2:text('Phases') + div table td.duration").all():
        b = cell.bounding_box()
        assert heading["x"] <= b["x"] + b["width"] / 2 <= heading["x"] + heading["width"], (
            "duration not under its heading"
        )
    differs, passed = box(page, "h2:text('What differs')"), box(page, "h2:text('Passed checks')")
    assert differs["y"] < box(page, "h2:text('Topology')")["y"] < passed["y"]
    topology_rows = page.locator("h2:text('Topology') + div table tr").all()
    assert "bad" in (topology_rows[1].get_attribute("class") or "")  # the first type listed is one that differs
    values = page.locator("td.value").all_inner_texts() + page.locator("dd").all_inner_texts()
    assert not [v for v in values if v in ("True", "False", "None") or v.startswith("{")], values
    reachable = page.locator("table.checks.passed tr", has_text="target reachable").text_content()  # folded
    assert "a command runs on the target" in reachable and "it ran" in reachable


def serious_violations(page: Page) -> list[str]:
    """What axe-core (run in the page) finds that blocks or seriously hinders a reader."""
    found = Axe().run(page).response["violations"]
    return [
        f"{v['impact']} {v['id']}: {v['nodes'][0]['target']}" for v in found if v["impact"] in ("serious", "critical")
    ]


def test_reports_of_a_passing_and_a_failing_drill_read_well_offline(drill_lab: DrillLab, page: Page, tmp_path: Path):
    keys = signing.keygen(tmp_path / "keys")
    assert drill_lab.run(env=dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))).returncode == 0
    passing = (drill_lab.reports / "latest").resolve()
    ann = signing.ssh_identity(tmp_path, "ann@example.com")
    assert signing.sign_off(passing, ann, "reviewer", "RTO well within objective").returncode == 0
    drill_lab.fault("import_drop=0.2")
    assert drill_lab.run().returncode == 1  # without the key: an UNSIGNED drill
    drill_lab.fault()
    failing = (drill_lab.reports / "latest").resolve()

    keyid = json.loads((passing / "evidence.json").read_text())["signing"]["keyid"]
    for folder, heading in ((passing, "PASS"), (failing, "FAIL · UNSIGNED")):
        requests = open_file(page, folder / "report.html")
        assert requests == [(folder / "report.html").as_uri()]  # nothing leaves the file
        assert page.locator("h1").inner_text() == f"Disaster-recovery drill: {heading}"
        assert page.locator(".banner").is_visible()
        assert serious_violations(page) == []
        signature = page.locator("h2:text('Signature') + p").inner_text()
        assert (keyid in signature) if folder == passing else signature.startswith("UNSIGNED: this drill ran without")
        page.screenshot(path=tmp_path / f"report-{folder.name}.png", full_page=True)
        pdf = page.pdf(path=tmp_path / f"report-{folder.name}.pdf")
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

    first_check = page.locator("table.checks tr.bad").first  # the failing report is open
    assert first_check.is_visible()
    assert "topology Component" in first_check.inner_text()
    assert "200 before, 160 after restore (-40)" in first_check.inner_text()
    assert_reads_well(page)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert fits_the_width(page)
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.screenshot(path=tmp_path / "report-fail-top.png")
    keep_for_readme(tmp_path / "report-fail-top.png", "report-fail.png")

    open_file(page, passing / "signoffs" / "index.html")
    assert serious_violations(page) == []
    row = page.locator("table tr").nth(1).inner_text()
    assert "ann@example.com" in row and "reviewer" in row and ann.fingerprint in row

    requests = open_file(page, drill_lab.reports / "index.html")
    assert requests == [(drill_lab.reports / "index.html").resolve().as_uri()]
    assert serious_violations(page) == []
    rows = page.locator("table tr").all_inner_texts()
    assert len(rows) == 3 and "fail" in rows[1] and "pass" in rows[2]  # newest first
    assert page.locator("svg circle").count() == 4  # RTO and RPO of both drills
    # each dot says whether its measure met the objective (both did); the failed drill is ringed
    assert page.locator("svg circle.met").count() == 4 and page.locator("svg circle.missed").count() == 0
    assert page.locator("svg circle.drill-failed").count() == 2
    page.screenshot(path=tmp_path / "history.png", full_page=True)
    keep_for_readme(tmp_path / "history.png", "history.png")
