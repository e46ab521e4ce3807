"""A class on one host (issue 12): JupyterHub with three learners running chapter 04 at once.

JupyterHub (PyPI) starts from classroom/jupyterhub_config.py with its proxy,
configurable-http-proxy (npm, installed into classroom/node_modules from
classroom/package-lock.json), everything on 127.0.0.1.  For the test the hub's
users are its own (DummyAuthenticator) and their servers run as this account in a home
each (SimpleLocalProcessSpawner): no Unix accounts are made on the machine.  Through the
Hub's REST API the test starts three servers, opens a kernel on each (through the
proxy, as a browser would) and runs chapter 04's cells in all three at the same time.
All pass; each learner's notebook booted its own QEMU (distinct processes, distinct host
ports for hostfwd); after the hub stops, nothing it started is left running.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import ROOT

pytest.importorskip("jupyterhub")
tornado_ws = pytest.importorskip("tornado.websocket")

CLASSROOM = ROOT / "classroom"
CHP = CLASSROOM / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ["ada", "grace", "linus"]
CHAPTER = ROOT / "notebooks" / "04-ethernet-arp.ipynb"

REPORT = """import json as _json, os as _os
print("REPORT " + _json.dumps({"pid": m.pid, "ports": sorted(m.host_ports.values()),
                               "home": _os.environ.get("HOME")}))"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_proxy() -> Path:
    """configurable-http-proxy from npm, into classroom/node_modules (gitignored)."""
    if not CHP.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: tools/setup.sh installs it")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CLASSROOM)],
                       check=True, capture_output=True, timeout=600)
    return CHP


def session_processes(sid: int) -> list[int]:
    """PIDs of live processes in session ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Hub:
    def __init__(self, tmp: Path):
        self.tmp, self.token = tmp, secrets.token_hex(24)
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = tmp / "test_config.py"
        config.write_text(f"""
c = get_config()
load_subconfig({str(CLASSROOM / 'jupyterhub_config.py')!r})
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_port = {self.hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"
c.JupyterHub.db_url = "sqlite:///{tmp / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(tmp / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(tmp / 'hub.pid')!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / 'home' / '{username}')!r}
c.Spawner.args = {['--allow-root'] if os.geteuid() == 0 else []!r}
c.JupyterHub.services = [{{"name": "classroom-test", "api_token": {self.token!r}}}]
c.JupyterHub.load_roles = [{{"name": "classroom-test", "services": ["classroom-test"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]}}]
""")
        self.log = open(tmp / "hub.log", "w")
        env = dict(os.environ, DOS64LAB_HUB_NOTEBOOKS=str(ROOT / "notebooks"),
                   DOS64LAB_HUB_STATE=str(tmp),
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path: str, method: str = "GET", body=None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/hub/api/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterHub did not start:\n" + self.logtext())
                time.sleep(0.5)

    def logtext(self) -> str:
        self.log.flush()
        return (self.tmp / "hub.log").read_text()[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)       # the hub stops servers and proxy
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


async def run_cells(base: str, user: str, token: str, cells: list[str]) -> list[str]:
    """Open a kernel on ``user``'s server, through the proxy, and run ``cells`` in order:
    the outputs of each (text), or raise at the first error."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    auth = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    reply = await http.fetch(HTTPRequest(f"{base}/user/{user}/api/kernels", method="POST",
                                         body=json.dumps({"name": "python3"}), headers=auth,
                                         request_timeout=120))
    kernel = json.loads(reply.body)["id"]
    ws_url = base.replace("http", "ws", 1) + f"/user/{user}/api/kernels/{kernel}/channels"
    ws = await tornado_ws.websocket_connect(HTTPRequest(ws_url, headers=auth,
                                                        request_timeout=60))
    session, outputs = uuid.uuid4().hex, []
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": user, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False,
                            "stop_on_error": True}}))
            text, idle, replied = [], False, None
            while not (idle and replied):
                raw = await asyncio.wait_for(ws.read_message(), timeout=120)
                if raw is None:
                    raise AssertionError(f"{user}: the kernel's websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    text.append(content["text"])
                elif kind in ("execute_result", "display_data"):
                    text.append(content["data"].get("text/plain", ""))
                elif kind == "error":
                    raise AssertionError(f"{user}: {content['ename']}: {content['evalue']}\n"
                                         f"in:\n{code}")
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = content
            outputs.append("".join(text))
    finally:
        ws.close()
        await http.fetch(HTTPRequest(f"{base}/user/{user}/api/kernels/{kernel}",
                                     method="DELETE", headers=auth), raise_error=False)
    return outputs


def chapter_cells() -> list[str]:
    nb = json.loads(CHAPTER.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return cells[:-1] + [REPORT, cells[-1]]          # report the machine before it closes


@pytest.mark.notebook
def test_three_learners_run_chapter_04_at_once_on_one_hub(tmp_path):
    ensure_proxy()
    hub = Hub(tmp_path)
    qemus: list[int] = []
    try:
        hub.wait_up()
        for user in USERS:
            hub.api("users", "POST", {"usernames": [user]}) if not _exists(hub, user) else None
            hub.api(f"users/{user}/server", "POST", {})
        deadline = time.monotonic() + 180
        while not all(hub.api(f"users/{u}")["servers"].get("", {}).get("ready") for u in USERS):
            if time.monotonic() > deadline:
                raise AssertionError("servers did not start:\n" + hub.logtext())
            time.sleep(0.5)

        async def everyone():
            return await asyncio.gather(*(run_cells(hub.base, u, hub.token, chapter_cells())
                                          for u in USERS))
        results = asyncio.run(everyone())

        reports = {}
        for user, outputs in zip(USERS, results):
            line = [ln for out in outputs for ln in out.splitlines() if ln.startswith("REPORT ")]
            reports[user] = json.loads(line[0][len("REPORT "):])
            checks = [out for out in outputs if "check_arp_reply_parser" in out]
            assert checks and "all 6 cases right" in checks[-1], (user, checks)
        qemus = [r["pid"] for r in reports.values()]
        assert len(set(qemus)) == len(USERS), reports                  # a machine each
        ports = [p for r in reports.values() for p in r["ports"]]
        assert ports and len(set(ports)) == len(ports), reports         # no port clash
        homes = {r["home"] for r in reports.values()}
        assert len(homes) == len(USERS), reports                        # a home each
        for user in USERS:                                              # their own copy
            assert (tmp_path / "home" / user / "dos64lab" / CHAPTER.name).exists()
        for user in USERS:
            hub.api(f"users/{user}/server", "DELETE")
    finally:
        hub.stop()
    deadline = time.monotonic() + 20
    while (left := session_processes(hub.proc.pid) + [p for p in qemus if alive(p)]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"left running after the hub stopped: {left}"


def _exists(hub: Hub, user: str) -> bool:
    try:
        hub.api(f"users/{user}")
        return True
    except urllib.error.HTTPError:
        return False
