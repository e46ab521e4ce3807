"""A real Linux on the lab's Ethernet: ``LinuxPeer``, the ``Link`` that cables a
``Machine`` to it, and the image both boot from (Debian's kernel + busybox, built once).

    from dos64lab.peer import LinuxPeer
    with LinuxPeer() as peer, Machine(link=peer) as m:
        print(peer.run("uname -r"))
"""

from .image import ImageError, PeerImage, cache_dir, peer_image
from .link import Link
from .peer import LinuxPeer, PeerConfig, PeerError, PeerTimeout, RunResult

__all__ = ["LinuxPeer", "Link", "RunResult", "PeerError", "PeerTimeout", "ImageError",
           "peer_image", "PeerImage", "PeerConfig", "cache_dir"]
