"""One error root for the whole lab (CONVENTIONS 7).

Every failure the lab reports is a ``Dos64LabError``; the subclasses say which
layer failed.  Errors raised because of another one chain it with ``from``.
"""

import signal

__all__ = ["Dos64LabError", "LaunchError", "MachineError", "QemuExitedError", "PanicError",
           "QtestError", "ArgumentError", "ParseError", "DeviceError"]


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


class QemuExitedError(MachineError):
    """A channel found QEMU gone while the lab still used it.

    Carries what is needed to see why: the exit code (negative: the signal that
    killed it, e.g. SIGABRT from one of QEMU's assertions) and QEMU's last stderr.
    """

    def __init__(self, message, *, returncode=None, stderr=""):
        self.returncode = returncode
        self.stderr = stderr
        status = f"exit code: {returncode}"
        if returncode is not None and returncode < 0:
            try:
                status += f" (killed by {signal.Signals(-returncode).name})"
            except ValueError:
                status += f" (killed by signal {-returncode})"
        parts = [message, "QEMU exited, " + status]
        if stderr.strip():
            parts.append("qemu stderr:\n  " + "\n  ".join(stderr.strip().splitlines()[-15:]))
        super().__init__("\n".join(parts))


class PanicError(MachineError):
    """DOS64 panicked: the machine is halted for good.

    ``report`` is what the kernel printed: the register dump of a CPU exception
    (if any), the ``PANIC: <reason>`` line and ``System halted.``
    """

    def __init__(self, report):
        self.report = report
        super().__init__("DOS64 panicked; the machine is halted (close it, start a new one):\n"
                         + report)


class QtestError(MachineError):
    """The qtest channel refused a command (QEMU answered FAIL)."""


class ArgumentError(Dos64LabError, ValueError):
    """A call was refused in Python, before anything reached QEMU.

    Names the function, the argument and its value:
    ``inb: port=0x10000 is out of range (0..0xffff)``.
    """

    def __init__(self, function, argument, value, expected):
        self.function, self.argument, self.value = function, argument, value
        shown = hex(value) if type(value) is int else repr(value)
        super().__init__(f"{function}: {argument}={shown} {expected}")


class ParseError(Dos64LabError):
    """Untrusted bytes did not parse; names the layer and the field."""

    def __init__(self, layer, field, reason=""):
        self.layer, self.field, self.reason = layer, field, reason
        super().__init__(f"{layer}: bad {field}" + (f" ({reason})" if reason else ""))


class DeviceError(Dos64LabError):
    """A device refused what the driver asked (status, features, queues)."""
