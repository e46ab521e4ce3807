"""Where the DOS64 kernel image is, and building it when it is missing."""

import os
import subprocess
from pathlib import Path

from ..errors import LaunchError

REPO = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO / "kernel"
IMAGE = KERNEL_DIR / "build" / "dos64.elf"


def kernel_image() -> Path:
    """The image to boot: $DOS64_KERNEL, else kernel/build/dos64.elf (built if absent)."""
    if os.environ.get("DOS64_KERNEL"):
        path = Path(os.environ["DOS64_KERNEL"])
        if not path.is_file():
            raise LaunchError(f"DOS64_KERNEL={path} is not a file")
        return path
    if not IMAGE.is_file() and (KERNEL_DIR / "Makefile").is_file():
        build = subprocess.run(["make", "-s", "-C", str(KERNEL_DIR)], capture_output=True, text=True)
        if build.returncode:
            raise LaunchError("building the DOS64 kernel failed (make -C kernel)",
                              returncode=build.returncode, stderr=build.stdout + build.stderr)
    if not IMAGE.is_file():
        raise LaunchError(f"no DOS64 kernel image at {IMAGE}: run `make -C kernel`")
    return IMAGE
