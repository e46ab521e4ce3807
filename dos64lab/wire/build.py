"""Whole frames in one call: the few the lab sends again and again.

Layer: wire.  Each helper stacks the layers' ``Repr`` values, so it is also a
short example of how the layers nest (Ethernet ⊃ ARP; Ethernet ⊃ IPv4 ⊃ ICMP).
Addresses default to QEMU's user network: the guest is 10.0.2.15.
"""

from ipaddress import IPv4Address

from . import arp, ethernet, icmp, ipv4
from .ethernet import BROADCAST, EtherType, EthernetAddress
from .ipv4 import IpProtocol

GUEST_IP = IPv4Address("10.0.2.15")
GATEWAY_IP = IPv4Address("10.0.2.2")

__all__ = ["arp_who_has", "icmp_echo_request", "GUEST_IP", "GATEWAY_IP"]


def _mac(mac) -> EthernetAddress:
    return mac if isinstance(mac, EthernetAddress) else EthernetAddress(bytes(mac))


def arp_who_has(mac: EthernetAddress, target=GATEWAY_IP, sender_ip=GUEST_IP) -> bytes:
    """The broadcast ARP request "who has ``target``? tell ``sender_ip``"."""
    request = arp.Repr(arp.Operation.REQUEST, _mac(mac), IPv4Address(sender_ip),
                       EthernetAddress(bytes(6)), IPv4Address(target))
    return ethernet.Repr(_mac(mac), BROADCAST, EtherType.ARP,
                         request.to_bytes()).to_bytes()


def icmp_echo_request(src_mac, dst_mac, seq: int, data: bytes = b"", ident: int = 0x64,
                      src=GUEST_IP, dst=GATEWAY_IP) -> bytes:
    """An ICMP echo request (a ping) from ``src`` to ``dst``, in an Ethernet frame."""
    echo = icmp.Repr.echo_request(ident, seq & 0xFFFF, data).to_bytes()
    packet = ipv4.Repr(IPv4Address(src), IPv4Address(dst), IpProtocol.ICMP, echo,
                       ident=seq & 0xFFFF).to_bytes()
    return ethernet.Repr(_mac(src_mac), _mac(dst_mac), EtherType.IPV4,
                         packet).to_bytes()
