"""The DOS64 network roadmap as data: layers bottom up, and the chapter of each."""

#: (chapter, notebook, layer, package) from the wire up to the apps.
CHAPTERS = [
    (0, "00-welcome", "QEMU machine: QMP, qtest, serial console", "machine"),
    (1, "01-pci-enumeration", "PCI: config space, BARs, capabilities", "hw.pci"),
    (2, "02-virtio-device", "virtio device: status, features", "hw.virtio"),
    (3, "03-virtqueues", "split virtqueues: desc, avail, used", "hw.virtio"),
    (4, "04-ethernet-arp", "Ethernet and ARP", "wire, iface"),
    (5, "05-ipv4-icmp", "IPv4 and ICMP", "wire, iface"),
    (6, "06-udp-dhcp-dns", "UDP, DHCP, DNS", "socket"),
    (7, "07-tcp", "TCP", "socket"),
    (8, "08-sockets-poll-loop", "sockets and the poll loop", "iface"),
    (9, "09-http-server", "HTTP/1.1 server + status API", "services"),
    (10, "10-telnet-console", "telnet, bridged to the console", "services"),
    (11, "11-apps", "apps: ping, wget, netstat, httpd", "apps"),
    (12, "12-native-kernel", "all of it again, in C, in DOS64", "kernel/"),
]
