"""A real browser (issue 12): JupyterLab in Debian's Chromium, driven by Playwright for Python.

JupyterLab serves a copy of the chapters on 127.0.0.1.  For each chapter the test opens
it, runs all cells (JupyterLab's own ``notebook:run-all-cells``), and checks what a
learner would see: every code cell ran, no error output, every picture rendered (an
image that loaded; the ring picture of chapter 03 with one slot per queue entry, the PCI
tree of chapter 01).  Then it saves, shuts the kernel down, reloads the page, reopens
the chapter and checks that the pictures still show -- no "model not found", no
untrusted SVG refused.  Screenshots go to screenshots/browser/ (gitignored).

Chromium is Debian's (/usr/bin/chromium, tools/setup.sh); Playwright's own browser
download is never used (``executable_path``).  As root Chromium needs --no-sandbox; the
background-networking flags keep it from calling out of this closed network.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "screenshots" / "browser"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
RUN_TIMEOUT = 150          # s for one chapter's Run All (they take 2-10 s alone, under TCG)

pytestmark = [pytest.mark.notebook,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing "
                                 "(tools/setup.sh installs it)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving a copy of the chapters (saving never touches git)."""
    tmp = tmp_path_factory.mktemp("browser-lab")
    root = tmp / "notebooks"
    root.mkdir()
    for nb in CHAPTERS:
        shutil.copy(nb, root / nb.name)
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the DOM (JupyterLab 4 otherwise renders only the cells in view)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n"
                                         + (tmp / "lab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield base, token, root
    finally:
        try:                                      # end every kernel (and its QEMU) first
            for s in api(base, token, "sessions"):
                api(base, token, f"sessions/{s['id']}", "DELETE")
        except OSError:
            pass
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def api(base, token, path, method="GET"):
    req = urllib.request.Request(f"{base}/api/{path}?token={token}", method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


OPEN_JS = """async (path) => {
  const app = window.jupyterapp;
  await app.started; await app.restored;
  const widget = await app.commands.execute('docmanager:open', {path});
  await widget.context.ready; await widget.sessionContext.ready;
  return true;
}"""

STATE_JS = """(path) => {
  const app = window.jupyterapp;
  const nb = app.shell.widgets('main').find(w => w.context && w.context.path === path);
  if (!nb) return {ready: false};
  const cells = nb.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  for (const c of cells) for (const o of c.model.outputs.toJSON())
    if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  return {ready: true, cells: cells.length,
          done: cells.filter(c => c.model.executionCount !== null).length,
          status: kernel ? kernel.status : 'none', errors};
}"""

PICTURES_JS = """(path) => {
  const nb = window.jupyterapp.shell.widgets('main').find(w => w.context && w.context.path === path);
  const imgs = [...nb.node.querySelectorAll('.jp-RenderedSVG img')];
  const svg = imgs.map(i => ({loaded: i.complete && i.naturalWidth > 0,
                              source: decodeURIComponent(i.src.split(',', 2)[1] || '')}));
  return {svg, text: nb.node.innerText};
}"""


def run_all(page, name):
    page.evaluate("(p) => window.jupyterapp.commands.execute('notebook:run-all-cells')", name)
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        state = page.evaluate(STATE_JS, name)
        if state["errors"]:
            return state
        if state["done"] == state["cells"] and state["status"] == "idle":
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: Run All did not finish in {RUN_TIMEOUT} s: {state}")
        time.sleep(0.25)


def pictures(page, name) -> list[dict]:
    got = page.evaluate(PICTURES_JS, name)
    assert "model not found" not in got["text"], name
    assert "Cannot display an untrusted SVG" not in got["text"], name
    return got["svg"]


def check_pictures(name, svgs):
    assert svgs and all(s["loaded"] for s in svgs), (name, [s["loaded"] for s in svgs])
    assert any("dos64lab-roadmap" in s["source"] for s in svgs), f"{name}: no roadmap"
    if name.startswith("01-"):
        assert any("dos64lab-pci-tree" in s["source"] for s in svgs), f"{name}: no PCI tree"
    if name.startswith("03-"):
        rings = [s["source"] for s in svgs if "dos64lab-rings" in s["source"]]
        assert len(rings) >= 6, f"{name}: {len(rings)} ring pictures"
        for source in rings:                      # one slot per queue entry, in each strip
            size = int(source.split('data-size="', 1)[1].split('"', 1)[0])
            for kind in ("desc", "avail", "used"):
                assert source.count(f'class="slot {kind}"') == size == 8, (name, kind)
        # that moment's pictures differ: the ring moved between the cells
        assert len(set(rings)) == len(rings), f"{name}: two pictures of different moments agree"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_run_all_in_chromium_then_save_and_reopen(lab, browser, notebook):
    base, token, root = lab
    name = notebook.name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: an empty workspace, so no earlier chapter reopens beside this one
        page.goto(f"{base}/lab?reset&token={token}", wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate(OPEN_JS, name)
        state = run_all(page, name)
        assert not state["errors"], f"{name}: error output: {state['errors']}"
        first = pictures(page, name)
        check_pictures(name, first)
        shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedSVG img")
        shown.nth(min(2, shown.count() - 1)).scroll_into_view_if_needed(timeout=10_000)
        page.screenshot(path=str(SHOTS / f"{notebook.stem}-ran.png"))

        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            saved = json.loads((root / name).read_text())
            if any(c.get("outputs") for c in saved["cells"] if c["cell_type"] == "code"):
                break
            time.sleep(0.2)
        errors = [o for c in saved["cells"] if c["cell_type"] == "code"
                  for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{name}: the saved notebook has error outputs"
        assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                       for c in saved["cells"] if c["cell_type"] == "code"
                       for o in c.get("outputs", [])), f"{name}: a widget view was saved"

        # reopen with no kernel behind it: what a learner sees the next day
        for s in api(base, token, "sessions"):
            api(base, token, f"sessions/{s['id']}", "DELETE")
        page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
        page.goto(f"{base}/lab?reset&token={token}", wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate("""async (path) => {
            const app = window.jupyterapp; await app.started; await app.restored;
            const w = await app.commands.execute('docmanager:open', {path, kernel: {name: 'python3'}});
            await w.context.ready; return true; }""", name)
        page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-RenderedSVG img').length >= n",
            arg=len(first), timeout=30_000)
        time.sleep(0.5)
        again = pictures(page, name)
        assert len(again) == len(first), (name, len(again), len(first))
        check_pictures(name, again)
        shown.nth(min(2, shown.count() - 1)).scroll_into_view_if_needed(timeout=10_000)
        page.screenshot(path=str(SHOTS / f"{notebook.stem}-reopened.png"))
    finally:
        try:
            page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
        except Exception:
            pass
        page.close()
        for s in api(base, token, "sessions"):
            api(base, token, f"sessions/{s['id']}", "DELETE")
