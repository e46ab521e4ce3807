"""Checks for learners' own code, run against the live device.

Each ``check_*`` runs the learner's function on a real machine, compares with
what QEMU itself reports, prints what was right, and raises ``ExerciseFailed``
(an AssertionError, so a notebook run stops there) saying what was wrong.
"""

from .common import ExerciseFailed
from .welcome import check_pci_id                              # chapter 00
from .pci import check_find_virtio_net, check_bar_sizing       # chapter 01
from .virtio import check_negotiate, check_reap_used           # chapters 02, 03
from .arp import check_arp_reply_parser                        # chapter 04
from .ipv4 import check_ipv4_checksum                          # chapter 05
from .dns import check_dns_answer_parser                       # chapter 06
from .tcp import check_acceptable                              # chapter 07
from .pollloop import check_echo_socket                        # chapter 08
from .http import check_request_line                           # chapter 09
from .telnet import check_iac_parser                           # chapter 10

__all__ = ["ExerciseFailed", "check_pci_id", "check_find_virtio_net", "check_bar_sizing",
           "check_negotiate", "check_reap_used", "check_arp_reply_parser", "check_ipv4_checksum",
           "check_dns_answer_parser", "check_acceptable", "check_echo_socket", "check_request_line",
           "check_iac_parser"]
