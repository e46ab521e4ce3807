"""Binder / repo2docker (issue 12): the Python pin it reads, and postBuild as a learner's image runs it.

repo2docker takes the Python version from environment.yml only in the form ``python=3.11``;
``python>=3.11`` is ignored and it falls back to its default, 3.10 (too old for DOS64 Lab).
postBuild runs as the image's non-root user after the environment is in: here it runs as
``nobody`` in a clean copy of the repository (the files git would have, no build output).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT


def test_environment_pins_python_the_way_repo2docker_reads_it():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pins == ["python=3.11"], pins
    runtime = ROOT / "runtime.txt"
    assert not runtime.exists() or runtime.read_text().strip() == "python-3.11"
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert "-e ." in pip                       # dos64lab itself, from the repository


def clean_copy(dest: Path) -> None:
    """The repository as a fresh clone would have it: tracked and new files, nothing ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())


def test_postbuild_builds_the_kernel_as_a_non_root_user():
    assert os.access(ROOT / "postBuild", os.X_OK)
    base = Path(tempfile.mkdtemp(prefix="dos64lab-binder-", dir="/tmp"))
    try:
        repo = base / "repo"
        repo.mkdir()
        clean_copy(repo)
        assert not (repo / "kernel" / "build").exists()
        argv = ["bash", "postBuild"]
        if os.geteuid() == 0:                  # as root: become nobody, as Binder is not root
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("setpriv (util-linux) is missing")
            os.chmod(base, 0o755)
            for path in [repo, *repo.rglob("*")]:
                os.chown(path, 65534, 65534, follow_symlinks=False)
            argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo), "LANG": "C.UTF-8"}
        done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        image = repo / "kernel" / "build" / "dos64.elf"
        assert image.stat().st_size > 0 and "kernel built" in done.stdout
        if os.geteuid() == 0:
            assert image.stat().st_uid == 65534        # built by the unprivileged user
    finally:
        shutil.rmtree(base, ignore_errors=True)
