"""Read-only views of live state: QEMU's own (QMP ``x-query-virtio*``) and guest RAM's.

Layer: inspect.  Nothing here changes the device; everything returns plain data.
"""

from .virtio import compare, qemu_element, qemu_queue, qemu_status, read_rings

__all__ = ["qemu_status", "qemu_queue", "qemu_element", "read_rings", "compare"]
