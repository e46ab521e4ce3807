"""DOS64 Lab: how a small 64-bit kernel gets network support, against a real QEMU.

Layers (bottom up): machine (the QEMU process), hw (PCI, virtio), phy (devices),
wire (protocol bytes), iface and socket (the stack), services and apps.
"""

import logging

from .errors import Dos64LabError, LaunchError, MachineError, ParseError, DeviceError

__all__ = ["Machine", "Dos64LabError", "LaunchError", "MachineError", "ParseError", "DeviceError"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name):
    # Imported lazily so that `import dos64lab.wire` does not pull in the machine layer.
    if name == "Machine":
        from .machine import Machine
        return Machine
    raise AttributeError(name)
