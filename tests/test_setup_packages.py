"""tools/setup.sh's package table and apt.txt never drift apart (fast, no network).

setup.sh keeps what DOS64 Lab needs from Debian in one table (check -> package);
apt.txt lists the same packages for tools that read it (Binder, a reader).
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table_packages() -> list[str]:
    out = subprocess.run(["bash", str(ROOT / "tools/setup.sh"), "--packages"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()


def apt_txt() -> list[str]:
    lines = (ROOT / "apt.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_apt_txt_lists_exactly_the_packages_setup_can_install():
    assert sorted(apt_txt()) == sorted(table_packages())


def test_each_package_once():
    assert len(set(apt_txt())) == len(apt_txt())
    assert len(set(table_packages())) == len(table_packages())


def test_python_and_its_venv_module_are_in_the_table():
    # a bare Debian has no python3, and Debian's python3 makes no venv without python3-venv
    assert {"python3", "python3-venv"} <= set(table_packages())


def test_make_is_a_prerequisite_not_a_package_setup_pretends_to_install():
    # setup.sh runs from `make`: the README asks for git and make before it
    assert "make" not in table_packages()
    assert "apt-get install -y git make" in (ROOT / "README.md").read_text()


def test_setup_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "tools/setup.sh")], check=True, timeout=30)
