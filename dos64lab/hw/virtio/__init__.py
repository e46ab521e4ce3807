"""hw layer: virtio over PCI -- transports, split virtqueues, the network device.

Read in this order: ``features`` (names of bits), ``transport`` (registers and the
status handshake, legacy and modern), ``virtqueue`` (rings in guest RAM), ``net``
(virtio-net on top).  Spec: virtio 1.x (OASIS), sections cited in each module.

    from dos64lab.hw.virtio import open_transport, VirtioNet
    net = VirtioNet(open_transport(m.qtest, "modern"), DmaAllocator.for_machine(m))
"""

from .features import Feature, Status, feature_names, status_names, features_from_names
from .net import VirtioNet, DEFAULT_FEATURES, RX_QUEUE, TX_QUEUE, BUFFER_SIZE
from .transport import (Transport, LegacyTransport, ModernTransport, VirtioError,
                        open_transport)
from .virtqueue import Virtqueue, split_layout

__all__ = ["VirtioNet", "open_transport", "Virtqueue", "Transport", "LegacyTransport",
           "ModernTransport", "VirtioError", "Feature", "Status", "feature_names",
           "status_names", "features_from_names", "split_layout", "DEFAULT_FEATURES",
           "RX_QUEUE", "TX_QUEUE", "BUFFER_SIZE"]
