"""iface layer: the interface between sockets and a device -- ARP, routes, IPv4, the poll loop.

Read in this order: ``neighbor`` (the ARP cache and its queue of waiting packets),
``fragment`` (IPv4 reassembly and fragmentation), ``interface`` (one ``poll`` round).
"""

from .fragment import Reassembler, fragment
from .interface import Interface, InterfaceConfig
from .neighbor import NeighborCache

__all__ = ["Interface", "InterfaceConfig", "NeighborCache", "Reassembler", "fragment"]
