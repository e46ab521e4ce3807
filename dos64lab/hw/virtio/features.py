"""hw layer: the names of virtio feature bits and device status bits.

Feature bits are what a device offers and a driver accepts (virtio 1.x §2.2,
§5.1.3 for network devices, §6 reserved bits); status bits record how far the
driver got in initialising the device (§2.1, §3.1.1).  Names are the spec's
(and Linux's, and QEMU's ``x-query-virtio-status``), so the three views can be
compared word for word.
"""

from enum import IntFlag

__all__ = ["Feature", "Status", "LEGACY_ONLY", "feature_names", "status_names", "features_from_names"]


class Feature(IntFlag):
    """Feature bits of virtio-net and of the transport (bit numbers from the spec)."""
    VIRTIO_NET_F_CSUM = 1 << 0               # device handles packets with partial checksum
    VIRTIO_NET_F_GUEST_CSUM = 1 << 1         # driver handles packets with partial checksum
    VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 1 << 2
    VIRTIO_NET_F_MTU = 1 << 3                # device config has a valid mtu
    VIRTIO_NET_F_MAC = 1 << 5                # device config has a valid mac
    VIRTIO_NET_F_GSO = 1 << 6                # legacy: any GSO type
    VIRTIO_NET_F_GUEST_TSO4 = 1 << 7
    VIRTIO_NET_F_GUEST_TSO6 = 1 << 8
    VIRTIO_NET_F_GUEST_ECN = 1 << 9
    VIRTIO_NET_F_GUEST_UFO = 1 << 10
    VIRTIO_NET_F_HOST_TSO4 = 1 << 11
    VIRTIO_NET_F_HOST_TSO6 = 1 << 12
    VIRTIO_NET_F_HOST_ECN = 1 << 13
    VIRTIO_NET_F_HOST_UFO = 1 << 14
    VIRTIO_NET_F_MRG_RXBUF = 1 << 15         # header grows num_buffers; RX may span buffers
    VIRTIO_NET_F_STATUS = 1 << 16            # device config has a link status word
    VIRTIO_NET_F_CTRL_VQ = 1 << 17           # a control queue exists
    VIRTIO_NET_F_CTRL_RX = 1 << 18
    VIRTIO_NET_F_CTRL_VLAN = 1 << 19
    VIRTIO_NET_F_CTRL_RX_EXTRA = 1 << 20
    VIRTIO_NET_F_GUEST_ANNOUNCE = 1 << 21
    VIRTIO_NET_F_MQ = 1 << 22
    VIRTIO_NET_F_CTRL_MAC_ADDR = 1 << 23
    VIRTIO_F_NOTIFY_ON_EMPTY = 1 << 24       # legacy only
    VIRTIO_F_ANY_LAYOUT = 1 << 27            # legacy only: header and data may share a descriptor
    VIRTIO_RING_F_INDIRECT_DESC = 1 << 28
    VIRTIO_RING_F_EVENT_IDX = 1 << 29        # used_event / avail_event instead of flags
    VHOST_USER_F_PROTOCOL_FEATURES = 1 << 30  # QEMU's name for bit 30 (legacy: "bad feature")
    VIRTIO_F_VERSION_1 = 1 << 32             # a modern (1.x) device and driver
    VIRTIO_F_ACCESS_PLATFORM = 1 << 33
    VIRTIO_F_RING_PACKED = 1 << 34
    VIRTIO_F_IN_ORDER = 1 << 35
    VIRTIO_F_ORDER_PLATFORM = 1 << 36
    VIRTIO_F_SR_IOV = 1 << 37
    VIRTIO_F_NOTIFICATION_DATA = 1 << 38
    VIRTIO_F_RING_RESET = 1 << 40


#: Bits only the legacy interface has (§6.3, §5.1.3.2 "legacy"): a modern device hides
#: them -- QEMU offers 0x79bf8064 through the legacy registers but masks these off in
#: the modern ones.
LEGACY_ONLY = (Feature.VIRTIO_NET_F_GSO | Feature.VIRTIO_F_NOTIFY_ON_EMPTY
               | Feature.VIRTIO_F_ANY_LAYOUT | Feature.VHOST_USER_F_PROTOCOL_FEATURES)


class Status(IntFlag):
    """The device status register (§2.1): the driver sets bits in this order."""
    ACKNOWLEDGE = 1          # the driver noticed the device
    DRIVER = 2               # the driver knows how to drive it
    DRIVER_OK = 4            # the driver is set up: the device is live
    FEATURES_OK = 8          # the driver accepted features; the device agrees (modern)
    DEVICE_NEEDS_RESET = 64  # the device hit an error it cannot recover from
    FAILED = 128             # the driver gave up


def _names(flag_type, value: int, prefix: str) -> list[str]:
    names, rest = [], value
    for bit in flag_type:
        if value & bit:
            names.append(bit.name)
            rest &= ~bit
    for n in range(64):
        if rest >> n & 1:
            names.append(f"{prefix}{n}")
    return names


def feature_names(bits: int) -> list[str]:
    """Spec names of the set bits, lowest first; unknown bits as ``FEATURE_BIT_n``."""
    return _names(Feature, bits, "FEATURE_BIT_")


def status_names(status: int) -> list[str]:
    """Names of the status bits set, in handshake order (ACKNOWLEDGE first)."""
    order = [Status.ACKNOWLEDGE, Status.DRIVER, Status.FEATURES_OK, Status.DRIVER_OK,
             Status.DEVICE_NEEDS_RESET, Status.FAILED]
    return [s.name for s in order if status & s]


def features_from_names(names) -> int:
    """``["VIRTIO_NET_F_MAC", ...]`` -> bits.  QEMU's "NAME: description" strings work too."""
    bits = 0
    for name in names:
        name = name.split(":", 1)[0].strip()
        if name.startswith("FEATURE_BIT_"):
            bits |= 1 << int(name[len("FEATURE_BIT_"):])
        else:
            bits |= Feature[name]
    return bits
