"""The page of ``labrf serve`` in a real browser (headless Debian chromium, driven by
Playwright) against a real server process: a spin-diode run submitted from the form, its
points arriving in the live plot, an emission run's spectrum map and a training's
learning curves drawn live, and a long run aborted from the page with the bench read
back safe. ``LABRF_SCREENSHOT=FILE`` also saves the page during the long run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import SIM_BENCH, SIM_NETWORK, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    db = tmp_path_factory.mktemp("page") / "lab.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "labrf.cli", "serve", "--station", str(SIM_BENCH),
         "--station", str(SIM_NETWORK), "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("labrf serve: http://127.0.0.1"), line
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).exists(), ("the browser tests need Debian's chromium: "
                                     "apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _stations_ready(page) -> None:
    page.wait_for_function("document.querySelectorAll('#stations tr[data-station]').length"
                           " === 2 && [...document.querySelectorAll('#stations td.state')]"
                           ".every(td => td.textContent === 'idle')", timeout=60_000)


def test_a_run_from_the_form_draws_its_points_live(url, browser) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "/")
    _stations_ready(page)
    page.select_option("#procedure", "spin-diode")
    page.select_option("#station", "sim_bench")
    page.fill('#parameters [name="points"]', "3001")
    page.fill('#parameters [name="power"]', "-20 dBm")
    page.click("#submit")
    page.wait_for_function("+document.getElementById('plot').dataset.points > 0",
                           timeout=60_000)
    page.wait_for_function("document.getElementById('live-text').dataset.status === "
                           "'completed'", timeout=120_000)
    # the status comes by polling, the points by the stream: the last batch may follow
    page.wait_for_function("+document.getElementById('plot').dataset.points === 3001",
                           timeout=30_000)
    assert page.eval_on_selector("#plot", "c => +c.dataset.points") == 3001
    page.wait_for_function("document.querySelector('#history tbody').textContent"
                           ".includes('completed')", timeout=10_000)
    assert "spin-diode" in page.inner_text("#history tbody")
    assert all(r.startswith(url) for r in requests), "every asset comes from labrf"
    page.fill('#parameters [name="points"]', "3")
    page.click("#submit")
    page.wait_for_function("document.getElementById('form-error').textContent !== ''")
    assert re.search(r"points = 3 is refused.*6 to 100001", page.inner_text("#form-error"))
    page.close()


def test_a_long_run_aborted_from_the_page_leaves_the_bench_safe(url, browser) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    page.goto(url + "/")
    _stations_ready(page)
    page.select_option("#procedure", "spin-diode")
    page.fill('#parameters [name="points"]', "100001")
    page.click("#submit")
    page.wait_for_function("+document.getElementById('plot').dataset.points > 200",
                           timeout=60_000)
    assert "running" in page.inner_text("#queue tbody")
    shot = os.environ.get("LABRF_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
    page.wait_for_function("!document.getElementById('abort').disabled")
    page.click("#abort")
    page.wait_for_function("document.getElementById('live-text').dataset.status === "
                           "'aborted'", timeout=60_000)
    page.wait_for_function("document.querySelector('[data-station=\"sim_bench\"] "
                           "[data-instrument=\"rf_source\"]').textContent.includes("
                           "'output off')", timeout=30_000)
    bench = page.inner_text('[data-station="sim_bench"] td.bench')
    assert "rf_source (RF source): output off" in bench
    assert re.search(r"current_source \(current source\): output off", bench), bench
    page.close()


_PLOT_BOX = """c => { const d = c.getContext('2d').getImageData(80, 24, c.width - 110,
    c.height - 70).data; const hues = new Set(); let blue = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] === 0) continue;
      hues.add(d[i] >> 4 << 8 | d[i + 1] >> 4 << 4 | d[i + 2] >> 4);
      if (d[i + 2] > d[i] + 60) blue++;
    }
    return [hues.size, blue]; }"""


def _run_from_the_form(page, procedure: str, station: str, values: dict[str, str]) -> None:
    page.select_option("#procedure", procedure)
    page.select_option("#station", station)
    for name, value in values.items():
        page.fill(f'#parameters [name="{name}"]', value)
    page.click("#submit")
    page.wait_for_function("document.getElementById('form-error').textContent !== '' || "
                           "document.getElementById('live-title').textContent.includes("
                           f"'{procedure} on {station}')", timeout=120_000)
    assert page.inner_text("#form-error") == "", page.inner_text("#form-error")
    page.wait_for_function("document.getElementById('live-text').dataset.status === "
                           "'completed'", timeout=180_000)


def test_an_emission_run_draws_its_spectrum_map_and_a_training_its_learning_curves(
        url, browser) -> None:
    """The live plot follows each procedure's own view: an emission run fills the
    spectrum map one bias step (one row) at a time; a chip-in-the-loop training draws
    loss and accuracies per epoch."""
    page = browser.new_page(viewport={"width": 1300, "height": 1100})
    page.goto(url + "/")
    _stations_ready(page)
    _run_from_the_form(page, "emission", "sim_bench",
                       {"bias_points": "11", "spectrum_points": "201", "settle_time": "0.01"})
    page.wait_for_function("JSON.parse(document.getElementById('plot').dataset.drawn)"
                           ".spectrum_power === 11", timeout=30_000)
    assert page.eval_on_selector("#plot", "c => c.dataset.kind") == "map"
    hues, _ = page.eval_on_selector("#plot", _PLOT_BOX)
    assert hues > 20, f"the map shows levels as colours, saw {hues}"

    _run_from_the_form(page, "chip-in-the-loop", "sim_network",
                       {"epochs": "3", "train_examples": "40", "validation_examples": "20",
                        "map_points": "6"})
    page.wait_for_function("JSON.parse(document.getElementById('plot').dataset.drawn)"
                           ".validation_accuracy === 4", timeout=30_000)
    assert page.eval_on_selector("#plot", "c => c.dataset.kind") == "line"
    drawn = page.eval_on_selector("#plot", "c => JSON.parse(c.dataset.drawn)")
    # epoch 0 is the start: accuracies measured, no training loss yet
    assert drawn == {"loss": 3, "train_accuracy": 3, "test_accuracy": 0,
                     "validation_accuracy": 4}, drawn
    _, blue = page.eval_on_selector("#plot", _PLOT_BOX)
    assert blue > 100, "the loss curve (blue) is drawn"
    page.close()
