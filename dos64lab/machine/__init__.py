"""The machine layer: the QEMU process and the lab's channels into it.

Everything that touches QEMU goes through here: one process, one QMP client,
one qtest channel, one serial console per ``Machine``.
"""

from .config import MachineConfig, GUEST_PORTS, VIRTIO_PATH
from .console import SerialConsole, PROMPT
from .kernel import kernel_image
from .machine import Machine, live_machines
from .qmp import QMP
from .qtest import Qtest

__all__ = ["Machine", "MachineConfig", "live_machines", "QMP", "Qtest", "SerialConsole",
           "kernel_image", "GUEST_PORTS", "VIRTIO_PATH", "PROMPT"]
