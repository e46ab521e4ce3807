"""One error root for the whole lab (CONVENTIONS 7).

Every failure the lab reports is a ``Dos64LabError``; the subclasses say which
layer failed.  Errors raised because of another one chain it with ``from``.
"""

__all__ = ["Dos64LabError", "LaunchError", "MachineError", "QtestError",
           "ParseError", "DeviceError"]


class Dos64LabError(Exception):
    """Root of every error raised by dos64lab."""


class LaunchError(Dos64LabError):
    """QEMU could not be started, or DOS64 did not reach its ready line.

    Carries what is needed to see why: the command line, the exit code (None
    while QEMU still ran) and the last console output.
    """

    def __init__(self, message, *, argv=(), returncode=None, console="", stderr=""):
        self.argv = list(argv)
        self.returncode = returncode
        self.console = console
        self.stderr = stderr
        parts = [message]
        if returncode is not None:
            parts.append(f"exit code: {returncode}")
        if stderr.strip():
            parts.append("qemu stderr:\n  " + "\n  ".join(stderr.strip().splitlines()[-15:]))
        if console.strip():
            parts.append("last console output:\n  " + "\n  ".join(console.strip().splitlines()[-15:]))
        if self.argv:
            parts.append("command line: " + " ".join(self.argv))
        super().__init__("\n".join(parts))


class MachineError(Dos64LabError):
    """A running machine was used wrongly or stopped answering."""


class QtestError(MachineError):
    """The qtest channel refused a command (QEMU answered FAIL)."""


class ParseError(Dos64LabError):
    """Untrusted bytes did not parse; names the layer and the field."""

    def __init__(self, layer, field, reason=""):
        self.layer, self.field, self.reason = layer, field, reason
        super().__init__(f"{layer}: bad {field}" + (f" ({reason})" if reason else ""))


class DeviceError(Dos64LabError):
    """A device refused what the driver asked (status, features, queues)."""
