"""What `make lab` opens really works: JupyterLab serves the notebooks.

Also the notebook hygiene rule (CONVENTIONS 10): committed without outputs.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT / 'notebooks'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if lab.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n" + lab.stderr.read().decode())
                time.sleep(0.3)
        yield base, token
    finally:
        lab.terminate()
        try:
            lab.wait(10)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()


def test_jupyterlab_serves_the_welcome_notebook(jupyterlab):
    base, token = jupyterlab
    with urllib.request.urlopen(f"{base}/api/contents/00-welcome.ipynb?token={token}") as r:
        model = json.load(r)
    assert model["type"] == "notebook"
    assert any("DOS64" in "".join(c["source"]) for c in model["content"]["cells"])
    with urllib.request.urlopen(f"{base}/lab/tree/00-welcome.ipynb?token={token}") as r:
        assert r.status == 200 and b"JupyterLab" in r.read()
    with urllib.request.urlopen(f"{base}/api/kernelspecs?token={token}") as r:
        assert "python3" in json.load(r)["kernelspecs"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs (clear them before committing)"


def test_there_is_a_welcome_notebook():
    assert (ROOT / "notebooks" / "00-welcome.ipynb") in NOTEBOOKS
