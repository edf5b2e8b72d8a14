"""The reports as a person sees them: JupyterLab, the HTML reports and the email, in Chromium.

One headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by ``./dev.sh
setup``) is shared by the whole file. It reaches nothing but 127.0.0.1: names resolve to nothing
and every other request goes to a dead proxy, and the DevTools network log records each request
the page makes, so a test can say that none left the machine. Screenshots of JupyterLab go to
``$CXREPORTS_SCREENSHOTS`` (a temporary folder by default; the path is printed).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import polars as pl
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from cxreports import digest, digestfiles, render
from cxreports.charts import AGENT_TRENDS, SLA_CSAT_TRENDS
from cxreports.report import REPORTS

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
#: Where the page may go: the test's own servers, local files, what the page makes itself, and
#: the browser's built-in pages (its new-tab page loads its own ``chrome://`` resources).
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about", "chrome", "chrome-untrusted"})
LOCAL_HOSTS = frozenset({"127.0.0.1"})
#: A vega-embed view that has drawn something: its SVG or canvas.
VEGA_VIEW = ".vega-embed svg.marks, .vega-embed canvas.marks"
JUPYTER_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A Chromium driven by selenium, with its requests and console messages recorded."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def drain(self) -> None:
        """Forget what was logged so far, so the next checks see only what follows."""
        self.driver.get_log("performance")
        self.driver.get_log("browser")

    def requests(self) -> list[tuple[str, bool]]:
        """(url, blocked) of every request since the last call, from the DevTools log."""
        sent: dict[str, str] = {}
        failed: set[str] = set()
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                sent[params["requestId"]] = params["request"]["url"]
            elif message["method"] == "Network.webSocketCreated":
                sent[params["requestId"]] = params["url"]
            elif message["method"] == "Network.loadingFailed":
                failed.add(params["requestId"])
        return [(url, rid in failed) for rid, url in sent.items()]

    def outside(self) -> list[tuple[str, bool]]:
        """(url, blocked) of the requests since the last call that were for another machine."""
        return [(url, blocked) for url, blocked in self.requests() if not _local(url)]

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def wait(self, what: str, done: Callable[[], Any], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            result = done()
            if result:
                return result
            if time.monotonic() > deadline:
                # what the page said and tried usually tells why
                raise AssertionError(
                    f"timed out after {timeout_s} s waiting for {what}; console errors: "
                    f"{self.console_errors()}; requests for other machines: {self.outside()}"
                )
            time.sleep(0.25)


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the whole session, cut off from everything but 127.0.0.1."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "Chromium and its driver are missing: run ./dev.sh setup (it installs Debian's "
            "chromium and chromium-driver)"
        )
    # a port held bound but never listening: every connection to it is refused at once
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        yield from _chromium(dead.getsockname()[1], tmp_path_factory.mktemp("chromium-profile"))


def _chromium(dead_port: int, profile: Path) -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,1500",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{dead_port}",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(60)
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("CXREPORTS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nJupyterLab screenshots: {path}")
    return path


@pytest.fixture(scope="session")
def jupyterlab(
    sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], str]]:
    """JupyterLab on 127.0.0.1 over a folder with the report notebooks.

    Yields the URL that opens a notebook (by file name) alone, in a workspace of its own.

    The notebooks are copied with their ``source`` parameter pointed at the sample data, as an
    analyst would edit it. JupyterLab's own settings, workspaces and runtime files live in the
    temporary folder, with its news check off and every notebook cell kept in the page.
    """
    root = tmp_path_factory.mktemp("lab")
    for name in REPORTS.values():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source = re.sub(
            r"^source = .*$", f"source = {str(sample_dir)!r}", params.source, flags=re.M
        )
        nbformat.write(nb, root / name)
    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    state = tmp_path_factory.mktemp("lab-state")
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
    }
    port, token = _free_port(), "cxreports-browser-test"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    log = (state / "jupyterlab.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    # straight to the server, whatever proxy the environment names
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with opener.open(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        f"JupyterLab did not start: {(state / 'jupyterlab.log').read_text()}"
                    )
                time.sleep(0.25)
        yield (
            lambda name: f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _chart_count(executed: Path) -> int:
    """How many charts a rendered report has: its outputs that are SVG images."""
    nb = nbformat.read(executed, as_version=4)
    return sum(
        "image/svg+xml" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


def _run_all_cells(browser: Browser) -> None:
    """Run > Run All Cells, through JupyterLab's menu bar as a person would."""
    driver = browser.driver
    menu = browser.wait(
        "the Run menu",
        lambda: [
            e
            for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
            if e.text == "Run"
        ],
        JUPYTER_TIMEOUT_S,
    )[0]
    menu.click()
    item = browser.wait(
        "Run All Cells in the menu",
        lambda: [
            e
            for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item .lm-Menu-itemLabel")
            if e.text == "Run All Cells"
        ],
        10,
    )[0]
    item.click()


#: The notebook on screen; others may stay open in the page, hidden.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"

_ALL_RAN = f"""
const cells = [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell')];
const prompts = cells.map(c => c.querySelector('.jp-InputPrompt')?.textContent ?? '');
return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p));
"""


def _hover_until_tooltip(browser: Browser, view: Any) -> str:
    """Move the mouse over a chart until vega's tooltip shows; returns the tooltip's text."""
    driver = browser.driver
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", view)
    width, height = view.size["width"], view.size["height"]
    for fy in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        for fx in (0.25, 0.35, 0.45, 0.55, 0.65):
            # offsets count from the element's centre
            ActionChains(driver).move_to_element_with_offset(
                view, int(width * (fx - 0.5)), int(height * (fy - 0.5))
            ).perform()
            shown = driver.find_elements(By.CSS_SELECTOR, "#vg-tooltip-element.visible")
            if shown and shown[0].text:
                return shown[0].text
    return ""


@pytest.mark.parametrize("report", list(REPORTS))
def test_jupyterlab_runs_each_notebook_with_interactive_charts_offline(
    report, rendered, jupyterlab, browser, screenshots
):
    expected = _chart_count(rendered[report]["ipynb"])
    assert expected > 0
    driver = browser.driver
    browser.drain()
    driver.get(jupyterlab(REPORTS[report]))
    browser.wait(
        "the notebook's kernel to be idle",
        lambda: any("| Idle" in e.text for e in driver.find_elements(By.ID, "jp-main-statusbar")),
        JUPYTER_TIMEOUT_S,
    )
    _run_all_cells(browser)
    browser.wait("every cell to run", lambda: driver.execute_script(_ALL_RAN), JUPYTER_TIMEOUT_S)
    views = browser.wait(
        f"{expected} rendered Vega views",
        lambda: (
            (found := driver.find_elements(By.CSS_SELECTOR, f"{NOTEBOOK} :is({VEGA_VIEW})"))
            and len(found) >= expected
            and found
        ),
        JUPYTER_TIMEOUT_S,
    )
    assert len(views) == expected
    errors = driver.find_elements(
        By.CSS_SELECTOR, f'{NOTEBOOK} .jp-OutputArea-output[data-mime-type*="stderr"]'
    )
    assert [e.text for e in errors] == []
    for i, view in enumerate(views):
        assert view.size["width"] > 100 and view.size["height"] > 30, (i, view.size)
    for i, view in enumerate(views[:3]):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", view)
        cell = view.find_element(By.XPATH, "./ancestor::div[contains(@class, 'jp-Cell')][1]")
        cell.screenshot(str(screenshots / f"{report}-chart-{i + 1}.png"))
    tip = _hover_until_tooltip(browser, views[0])
    assert tip.strip(), "no tooltip over the first chart"
    driver.save_screenshot(str(screenshots / f"{report}-tooltip.png"))
    # anywidget gives a model 2 s to initialise, then logs this even when the chart goes on to
    # draw: on a loaded machine it did, every chart drawn and its tooltip shown (asserted above)
    slow = "[anywidget] Failed to initialize model."
    assert [e for e in browser.console_errors() if slow not in e] == []
    assert browser.outside() == []


def test_html_reports_show_every_chart_with_no_network(rendered, browser):
    for report, files in rendered.items():
        expected = _chart_count(files["ipynb"])
        assert expected > 0
        browser.drain()
        browser.driver.get(files["html"].resolve().as_uri())
        charts = browser.driver.find_elements(By.CSS_SELECTOR, "svg.marks")
        assert len(charts) == expected, report
        for chart in charts:
            assert chart.size["width"] > 100 and chart.size["height"] > 30, report
        assert browser.outside() == [], report
        assert browser.console_errors() == [], report


def _email_page(folder: Path, tmp_path: Path) -> Path:
    """The email of ``folder`` as a page: a mail client resolves ``cid:`` to the attached parts,
    here they are the PNGs beside the body."""
    copy = shutil.copytree(folder, tmp_path / "email")
    body = (copy / "body.html").read_text()
    cids = re.findall(r'src="cid:([^"]+)"', body)
    assert sorted(cids) == sorted(json.loads((copy / "digest.json").read_text())["images"])
    (copy / "body.html").write_text(re.sub(r'src="cid:([^"]+)"', r'src="\1.png"', body))
    return copy / "body.html"


#: What a reader of the email would see go wrong: the page wider than the screen, table cells
#: reaching past its right edge or cutting their own content, images that did not load.
_EMAIL_LAYOUT = """
const width = document.documentElement.clientWidth;
const cells = [...document.querySelectorAll('td, th')];
return {
  width: width,
  page: document.documentElement.scrollWidth,
  cut: cells.filter(c => c.getBoundingClientRect().right > width + 0.5
                         || c.scrollWidth > c.clientWidth + 1)
            .map(c => c.textContent.trim().slice(0, 40)),
  images: [...document.images].map(i => ({
    src: i.getAttribute('src'), complete: i.complete, natural: i.naturalWidth,
    shown: i.getBoundingClientRect().width, alt: i.alt})),
};
"""


def _open_email(browser: Browser, page: Path, width: int, screenshot: Path) -> dict[str, Any]:
    """Open ``page`` in a ``width`` px viewport (a 2x phone below 600 px, which obeys the
    viewport meta tag as phones do) and return what :data:`_EMAIL_LAYOUT` finds."""
    driver = browser.driver
    phone = width < digest.MAX_WIDTH
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 2 if phone else 1, "mobile": phone},
    )
    # overlay scroll bars, as on phones and macOS: the page gets the whole width
    driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": True})
    try:
        browser.drain()
        driver.get(page.as_uri())
        layout = driver.execute_script(_EMAIL_LAYOUT)
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": False})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert browser.outside() == []
    assert browser.console_errors() == []
    return layout


@pytest.mark.parametrize("width", [320, 390, 600, 1280])
def test_email_fits_the_screen_and_its_charts_are_legible(
    width, rendered, browser, screenshots, tmp_path
):
    week = next(iter(rendered.values()))["html"].parent
    page = _email_page(week / digestfiles.FOLDER, tmp_path)
    layout = _open_email(browser, page, width, screenshots / f"email-{width}.png")
    assert layout["width"] == width  # a phone lays out the page as wide as its screen
    assert layout["page"] <= width, "the page scrolls sideways"
    assert layout["cut"] == []
    images = layout["images"]
    assert [i["src"] for i in images] == ["daily.png", "trend.png"]
    for image in images:
        assert image["complete"] and image["natural"] > 0, image
        assert image["alt"], image
        # from a 390 px phone up, the chart's smallest text (CHART_FONT px as drawn) is shown
        # at 11 px or more; on the rare 320 px phone it shrinks with the screen
        drawn = image["natural"] / digest.PNG_SCALE
        assert image["shown"] * digest.CHART_FONT / drawn >= (11 if width >= 390 else 9), image
        assert image["shown"] == min(width, digest.MAX_WIDTH), image  # uses the width it has


def test_email_with_long_names_cuts_nothing_on_a_phone(browser, screenshots, tmp_path):
    from cxreports import weekly

    from .metrics_fixtures import make_logs, utc

    names = {
        "A": "Maximiliana Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh",
        "B": None,  # shown by its id, one long word
        "C": "Léa",
    }
    # the email's scope line names the queue: one long word here
    queue = "Support" + "Escalations" * 12
    rows = [
        {
            "agent_id": "agent-7f3a9b2c-0d4e-4f5a-9b6c-7d8e9f0a1b2c" if agent == "B" else agent,
            "agent_name": name,
            "started_at": utc(2026, 3, 24, 1, i),
            "handled_time_s": 4000.0 if agent == "A" else 100.0,
            "sla_status": "meet" if i % 3 else "breach",
            "csat_status": "completed",
            "csat_score": 5 if i % 2 else 2,
            "queue_name": queue,
        }
        for agent, name in names.items()
        for i in range(25)
    ]
    metrics = weekly(make_logs(rows), "2026-W13", "UTC", queues=[queue])
    folder = digestfiles.write(digest.build(metrics), tmp_path / "week")
    layout = _open_email(
        browser, _email_page(folder, tmp_path), 390, screenshots / "email-390-long-names.png"
    )
    assert layout["page"] <= 390
    assert layout["cut"] == []
    assert all(i["complete"] and i["natural"] > 0 for i in layout["images"])


def _dark_screenshot(page: Path, out: Path, profile: Path) -> tuple[int, int, int]:
    """The colour at the top left of ``page`` in Chromium's forced dark mode (what some mail
    apps do to email), drawn 390 px wide by the chromium command line, offline."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-dark-mode",
            "--enable-features=WebContentsForceDark",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={profile}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            f"--screenshot={out}",
            "--window-size=390,1600",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with Image.open(out) as image:
        return image.convert("RGB").getpixel((4, 4))


def test_email_stays_light_when_the_app_forces_dark_mode(rendered, screenshots, tmp_path):
    week = next(iter(rendered.values()))["html"].parent
    page = _email_page(week / digestfiles.FOLDER, tmp_path)
    profile = tmp_path / "profile"
    assert min(_dark_screenshot(page, screenshots / "email-390-forced-dark.png", profile)) > 200
    # the same page without its colour-scheme pins goes dark: the check above can fail
    unpinned = page.with_name("unpinned.html")
    unpinned.write_text(
        page.read_text().replace("light only", "normal").replace('content="light"', "")
    )
    assert max(_dark_screenshot(unpinned, tmp_path / "unpinned.png", profile)) < 60


def test_the_browser_reaches_nothing_beyond_this_machine(browser, tmp_path):
    # the checks above say "no request left"; this one shows a request that tries is seen
    # and stopped, by name and by address
    page = tmp_path / "reach.html"
    page.write_text(
        '<img src="https://cdn.jsdelivr.net/npm/vega@6/build/vega.min.js">'
        '<img src="http://93.184.215.14/x.png">'
    )
    browser.drain()
    browser.driver.get(page.as_uri())
    browser.wait(
        "both images to fail",
        lambda: browser.driver.execute_script(
            "return [...document.images].every(i => i.complete && i.naturalWidth === 0)"
        ),
        30,
    )
    assert sorted(browser.outside()) == [
        ("http://93.184.215.14/x.png", True),
        ("https://cdn.jsdelivr.net/npm/vega@6/build/vega.min.js", True),
    ]


# --- the HTML reports on a phone and on a desktop --------------------------------------------

#: Screens the reports are read on: (width, height, mobile). A phone lays the page out at its
#: own width only through the report's viewport meta tag, as a real phone does.
SCREENS = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
#: The smallest chart text a reader gets, in CSS pixels.
MIN_CHART_TEXT_PX = 11


def _open_on(browser: Browser, page: Path, screen: str) -> None:
    width, height, mobile = SCREENS[screen]
    browser.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    browser.driver.get(page.resolve().as_uri())


@pytest.fixture
def screen_reset(browser: Browser) -> Iterator[Browser]:
    """The shared browser, back at its own window size after the test."""
    yield browser
    browser.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


_LAYOUT = """
const width = window.innerWidth;
const cards = [...document.querySelectorAll('.cx-card')].map(c => c.getBoundingClientRect());
return {
  width,
  page: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  cards: cards.map(r => [r.left, r.right, r.top]),
};
"""

#: For every table with row headers: scroll its box to the far right, then for every row say
#: whether its header is inside the box and on top (not covered by the cells scrolled under it).
_ROW_HEADERS = """
const out = [];
for (const table of document.querySelectorAll('table.gt_table')) {
  let box = table.parentElement;
  while (box && box.scrollWidth <= box.clientWidth + 1 && box !== document.body) {
    box = box.parentElement;
  }
  const scrolls = box !== document.body;
  if (scrolls) box.scrollLeft = box.scrollWidth;
  const edge = scrolls ? box.getBoundingClientRect() : {left: 0, right: window.innerWidth};
  for (const th of table.querySelectorAll('tbody th.gt_stub')) {
    // scroll the page down to the row, never the table's box back to the left
    window.scrollTo(0, th.getBoundingClientRect().top + window.scrollY - window.innerHeight / 2);
    const r = th.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    out.push({
      table: table.querySelector('thead th')?.textContent.trim(),
      name: th.textContent.trim(),
      scrolls,
      scrolled: scrolls ? box.scrollLeft > 0 : false,
      inside: r.left >= edge.left - 1 && r.right <= edge.right + 1,
      onTop: th.contains(hit),
    });
  }
}
return out;
"""

#: Every element wider than the screen, but for what scrolls inside a box of its own.
_WIDER_THAN_THE_SCREEN = """
const width = window.innerWidth;
const boxed = el => { for (let p = el.parentElement; p; p = p.parentElement) {
  if (getComputedStyle(p).overflowX !== 'visible') return p.getBoundingClientRect().right <= width;
} return false; };
return [...document.body.querySelectorAll('*')]
  .filter(el => el.getBoundingClientRect().right > width + 1 && !boxed(el))
  .map(el => el.tagName + ' ' + (el.textContent || '').slice(0, 40));
"""

#: Every chart's title, top and right edge, in page order.
_CHART_BOXES = """
return [...document.querySelectorAll('svg.marks')].map(s => {
  const r = s.getBoundingClientRect();
  return [s.querySelector(':scope > title')?.textContent ?? '', r.top, r.right];
});
"""

#: The height of every row of the data-quality tables.
_KV_ROWS = """
return [...document.querySelectorAll('table.cx-kv tr')].map(r => r.getBoundingClientRect().height);
"""

#: Every drawn chart text: its content and the size it is shown at (font size times the
#: scale the SVG is drawn at).
_CHART_TEXT = """
return [...document.querySelectorAll('svg.marks text')]
  .filter(t => t.textContent.trim() && t.getBBox().width > 0)
  .map(t => {
    const m = t.getScreenCTM();
    return [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b)];
  });
"""


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("report", list(REPORTS))
def test_html_report_fits_the_screen_with_cards_and_row_headers_in_view(
    rendered, screen_reset, report, screen
):
    browser = screen_reset
    _open_on(browser, rendered[report]["html"], screen)
    layout = browser.driver.execute_script(_LAYOUT)
    assert layout["width"] == SCREENS[screen][0]
    assert layout["page"] <= layout["width"], "the page scrolls sideways"
    cards = layout["cards"]
    assert len(cards) >= 5
    assert [c for c in cards if c[0] < 0 or c[1] > layout["width"]] == []
    per_row = sum(1 for c in cards if c[2] == cards[0][2])
    assert per_row == (2 if screen == "phone" else 5)
    rows = browser.driver.execute_script(_ROW_HEADERS)
    assert rows, "no table with row headers"
    assert [r for r in rows if not (r["inside"] and r["onTop"])] == []
    if screen == "phone":
        # the wide tables do scroll on a phone, so the check above saw them scrolled
        wide = {r["table"] for r in rows if r["scrolled"]}
        assert "Agent" in wide
    else:
        # the data-quality tables side by side keep their own height: a table of fewer rows
        # is not stretched to the tallest one beside it, its rows spaced out
        heights = browser.driver.execute_script(_KV_ROWS)
        assert len(heights) >= 8 and max(heights) < 1.3 * min(heights), heights
    # a phone shows one chart a row; a desktop sets the trends' panels two to a row, and a
    # chart beside the one before it (charts at a phone's width left two thirds of it empty)
    boxes = browser.driver.execute_script(_CHART_BOXES)
    beside = {(a[0], b[0]) for a, b in pairwise(boxes) if abs(a[1] - b[1]) < 1}
    trends = [
        t for t, _ in (AGENT_TRENDS if report == "agent-performance" else SLA_CSAT_TRENDS).values()
    ]
    pairs = {(trends[0], trends[1]), (trends[2], trends[3])}
    if report == "agent-performance":
        pairs |= {("Handle time", "First response time"), ("Dispositions", "Wrap-up categories")}
    if screen == "phone":
        assert beside == set()
    else:
        assert pairs <= beside, beside
        assert all(right <= layout["width"] for _, _, right in boxes)


@pytest.mark.parametrize("report", list(REPORTS))
def test_chart_text_is_at_least_11_px_on_a_phone(rendered, screen_reset, report):
    browser = screen_reset
    _open_on(browser, rendered[report]["html"], "phone")
    texts = browser.driver.execute_script(_CHART_TEXT)
    assert len(texts) > 100
    small = [(text, round(size, 1)) for text, size in texts if size < MIN_CHART_TEXT_PX]
    assert small == []
    widths = browser.driver.execute_script(
        "return [...document.querySelectorAll('svg.marks')].map(s => "
        "s.getBoundingClientRect().right)"
    )
    assert max(widths) <= SCREENS["phone"][0]


_STRUCTURE = """
const svgs = [...document.querySelectorAll('svg.marks')];
return {
  lang: document.documentElement.lang,
  headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]),
  thWithoutScope: [...document.querySelectorAll('th')].filter(th => !th.getAttribute('scope'))
    .map(th => th.outerHTML.slice(0, 80)),
  charts: svgs.map(s => [
    s.getAttribute('role'),
    s.querySelector(':scope > title')?.textContent ?? '',
    s.querySelector(':scope > desc')?.textContent ?? '',
  ]),
};
"""


@pytest.mark.parametrize("report", list(REPORTS))
def test_html_report_structure_is_accessible(rendered, browser, report):
    browser.driver.get(rendered[report]["html"].resolve().as_uri())
    found = browser.driver.execute_script(_STRUCTURE)
    assert found["lang"] == "en"
    levels = found["headings"]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels
    assert found["thWithoutScope"] == []
    assert len(found["charts"]) == _chart_count(rendered[report]["ipynb"])
    for role, title, desc in found["charts"]:
        assert role == "img" and title and re.search(r"\d", desc), (title, desc)


def test_names_with_no_place_to_break_stay_on_a_phones_screen(screen_reset, screenshots, tmp_path):
    # what changed, the scorecards' contents, heading, queue and categories, and the agent
    # table's row header, with an agent and a queue named by one long word each
    from cxreports import tables, weekly
    from cxreports.metrics.changes import SCHEMA, Changes

    from .metrics_fixtures import make_logs, utc

    agent, queue = "Agent" + "Featherstonehaugh" * 10, "Queue" + "Escalations" * 12
    rows = [
        {
            "agent_id": "A1",
            "agent_name": agent,
            "queue_name": queue,
            "started_at": utc(2026, 3, 24, 1, i),
            "sla_status": "meet",
        }
        for i in range(25)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1, scorecards=True)
    claim = {"metric": "count", "comparison": "last week", "dimension": "queue_name"}
    claim |= {"sentence": f"Volume rose, all of it in the {queue} queue.", "p_value": 0.001}
    m = replace(m, changes=Changes(pl.DataFrame([claim], schema=SCHEMA), 1, 8))
    css = (Path(render.__file__).parent / "templates/cxreport/static/cxreport.css").read_text()
    body = tables.changes_section(m, "agent-performance") + tables.agent_table(m).as_raw_html()
    body += tables.scorecard_contents(m)
    body += "".join(tables.scorecard_page(c, m) for c in m.scorecards.cards)
    page = tmp_path / "names.html"
    page.write_text(
        '<html><head><meta name="viewport" content="width=device-width">'
        f"<style>{css}</style></head><body><main>{body}</main></body></html>"
    )
    browser = screen_reset
    _open_on(browser, page, "phone")
    layout = browser.driver.execute_script(_LAYOUT)
    browser.driver.save_screenshot(str(screenshots / "long-names-390.png"))
    # (a page wider than a phone's screen is shown zoomed out, its text too small to read)
    assert layout["width"] == SCREENS["phone"][0], "the page is wider than the screen"
    assert layout["page"] <= layout["width"], "the page scrolls sideways"
    wide = browser.driver.execute_script(_WIDER_THAN_THE_SCREEN)
    assert wide == [], wide
    # the agent table's row header, kept in view as the table scrolls, leaves room for numbers
    heads = browser.driver.execute_script(
        "return [...document.querySelectorAll('.gt_stub')].map(th => th.offsetWidth)"
    )
    assert heads and max(heads) < 0.6 * layout["width"], heads


def test_a_right_to_left_name_leaves_the_contents_entry_in_order(screen_reset, tmp_path):
    # a Hebrew name, and one holding an unclosed right-to-left override, in the scorecards'
    # contents: what follows each name (" · 17 handled") stays after it, read left to right
    from cxreports import tables, weekly

    from .metrics_fixtures import make_logs, utc

    names = {"A1": "דוד כהן", "A2": "\u202eAisha Rahman", "A3": "Ann"}
    rows = [
        {"agent_id": a, "agent_name": n, "started_at": utc(2026, 3, 24, 9, i), "sla_status": "meet"}
        for a, n in names.items()
        for i in range(5)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1, scorecards=True)
    page = tmp_path / "contents.html"
    page.write_text(f"<html><body>{tables.scorecard_contents(m)}</body></html>")
    browser = screen_reset
    _open_on(browser, page, "desktop")
    entries = browser.driver.execute_script(
        "return [...document.querySelectorAll('ol.cx-contents li')].map(li => ["
        "  li.querySelector('a').getBoundingClientRect().right,"
        "  li.querySelector('.cx-see').getBoundingClientRect().left])"
    )
    assert len(entries) == 3
    assert all(after >= name - 1 for name, after in entries), entries
