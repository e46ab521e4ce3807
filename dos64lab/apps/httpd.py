"""httpd: serve a host directory from the guest's HTTP server, like ``busybox httpd -h DIR``.

A small user program (CONVENTIONS 17) on the HTTP service (``services.http``, itself a
program on the stack's socket API): check the directory, start the server on the guest's
port 80, say where it is.  The files stay on the host; every request for one travels
host → slirp → virtio-net → our stack → this server, and the answer all the way back::

    with Machine() as m, Stack.on(m) as net:
        net.dhcp()
        with httpd(net, "public/"):
            ...          # curl http://127.0.0.1:{m.host_ports["http"]}/file.txt
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Dos64LabError

__all__ = ["httpd"]


def httpd(stack, directory, port: int = 80, out=print, **options):
    """Serve the files under ``directory`` on guest TCP ``port``; returns the running
    ``HttpServer`` (``close()`` it, or use it in ``with``).  ``/api/status`` keeps answering
    beside the files; paths never leave the directory."""
    from ..services.http import serve_http
    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise Dos64LabError(f"httpd: {directory} is not a directory")
    files = sum(1 for f in root.rglob("*") if f.is_file())
    server = serve_http(stack, port, root=root, **options)
    address = stack.iface.address or "the guest"
    out(f"httpd: {files} files from {root} on http://{address}:{port}/")
    return server
