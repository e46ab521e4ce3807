"""JupyterHub for a DOS64 Lab class on one host (classroom/README.md).

    .venv/bin/jupyterhub -f classroom/jupyterhub_config.py

Many learners, one host: every learner logs in with their own Unix account (PAM), gets a
Jupyter server of their own running as that account (LocalProcessSpawner), with a copy of
the chapters in ~/dos64lab, and every notebook boots its *own* QEMU machine.  The lab keeps
each machine's QMP, qtest and console on socket pairs (nothing listens on a path) and asks
the host for free ports for hostfwd, so machines never clash: no per-user ports to plan.

What a learner costs here (``make bench``, benchmarks/bench_capacity.py): an idle machine
46 MiB and 0.3 % of a core; with its Jupyter kernel and server a learner is ~260 MiB.  Size the host from that, plus headroom for the
moments when everyone presses Run All at once (a chapter is a few seconds of one core).

Settings read from the environment (all optional):

    DOS64LAB_HUB_IP        address the proxy listens on (default 127.0.0.1; a class on a
                           LAN sets its address, behind TLS -- see the README)
    DOS64LAB_HUB_PORT      its port (8000)
    DOS64LAB_HUB_NOTEBOOKS the folder copied to each new learner (default student/ when
                           `make student` made it, else notebooks/)
    DOS64LAB_HUB_STATE     where the hub keeps its database and cookie secret
                           (default /srv/dos64lab-hub)
"""

import os
import pwd
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = ROOT / ".venv" / "bin"
STATE = Path(os.environ.get("DOS64LAB_HUB_STATE", "/srv/dos64lab-hub"))

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

# -- the front door: the proxy (configurable-http-proxy from npm: npm ci --prefix classroom)
c.JupyterHub.ip = os.environ.get("DOS64LAB_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("DOS64LAB_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"                 # the hub itself only talks to the proxy
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"

# -- state ------------------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True               # stopping the hub stops every server
c.JupyterHub.cleanup_proxy = True

# -- who: the host's own accounts ---------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set()             # fill in, or use a group:
# c.PAMAuthenticator.allowed_groups = {"dos64lab"}
# c.Authenticator.admin_users = {"teacher"}

# -- what each learner gets -----------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.environment = {
    # the venv first: its python runs the kernels, its nbgrader needs its alembic
    "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
}
c.Spawner.notebook_dir = "~/dos64lab"
c.Spawner.default_url = "/lab/tree/00-welcome.ipynb"
c.Spawner.start_timeout = 120                     # a loaded host starts servers slowly
c.Spawner.http_timeout = 120


def _chapters() -> Path:
    wanted = os.environ.get("DOS64LAB_HUB_NOTEBOOKS")
    if wanted:
        return Path(wanted)
    student = ROOT / "student"
    return student if student.is_dir() else ROOT / "notebooks"


def copy_chapters(spawner) -> None:
    """Before a learner's first start: their own copy of the chapters in ~/dos64lab.

    Never overwrites: a learner's work stays theirs (delete ~/dos64lab to start over)."""
    home = Path(getattr(spawner, "home_dir", "") or pwd.getpwnam(spawner.user.name).pw_dir)
    target = home / "dos64lab"
    if target.exists():
        return
    shutil.copytree(_chapters(), target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(spawner.user.name)
        except KeyError:                          # a hub user without a Unix account (tests)
            return
        for path in [target, *target.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)


c.Spawner.pre_spawn_hook = copy_chapters
