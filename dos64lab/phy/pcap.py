"""Classic libpcap files (phy layer helper), for Wireshark and tshark.

One job: write and read the classic pcap format (the tcpdump file format,
draft-ietf-opsawg-pcap section 4-5): a 24-byte global header (magic
0xa1b2c3d4, version 2.4, snaplen, link type 1 = Ethernet), then per frame a
16-byte record header (seconds, microseconds, captured length, original length)
and the bytes.  ``PcapTap`` writes every frame that passes a Device.
Timestamps are parameters; ``PcapTap`` takes a ``clock`` (e.g. ``time.time``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import ParseError
from .device import Device, DeviceWrapper

__all__ = ["PcapWriter", "PcapTap", "read_pcap", "LINKTYPE_ETHERNET"]

MAGIC = 0xA1B2C3D4            # microsecond timestamps
MAGIC_NS = 0xA1B23C4D         # nanosecond timestamps (read only)
PCAPNG_MAGIC = 0x0A0D0D0A
LINKTYPE_ETHERNET = 1
GLOBAL, GLOBAL_LEN = "IHHiIII", 24  # magic, major, minor, thiszone, sigfigs, snaplen, linktype
RECORD, RECORD_LEN = "IIII", 16     # ts_sec, ts_usec (or ns), incl_len, orig_len


class PcapWriter:
    """``with PcapWriter("out.pcap") as w: w.write(frame, timestamp)``."""

    def __init__(self, path_or_file: str | Path | BinaryIO, snaplen: int = 65535):
        self._owned = isinstance(path_or_file, (str, Path))
        self.file = open(path_or_file, "wb") if self._owned else path_or_file
        self.snaplen = snaplen
        self.file.write(struct.pack("<" + GLOBAL, MAGIC, 2, 4, 0, 0, snaplen,
                                    LINKTYPE_ETHERNET))

    def write(self, frame: bytes, timestamp: float) -> None:
        """Append one frame captured at ``timestamp`` (seconds since the epoch)."""
        usec_total = round(timestamp * 1_000_000)
        sec, usec = divmod(usec_total, 1_000_000)
        kept = frame[:self.snaplen]
        self.file.write(struct.pack("<" + RECORD, sec, usec, len(kept), len(frame)))
        self.file.write(kept)

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        if self._owned and not self.file.closed:
            self.file.close()
        elif not self._owned:
            self.file.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PcapTap(DeviceWrapper):
    """Writes every frame sent or received through ``inner`` to ``writer``, stamped by ``clock()``."""

    def __init__(self, inner: Device, writer: PcapWriter, clock: Callable[[], float]):
        super().__init__(inner)
        self.writer, self.clock = writer, clock

    def send(self, frame: bytes) -> None:
        self.writer.write(frame, self.clock())
        self.inner.send(frame)

    def receive(self) -> bytes | None:
        frame = self.inner.receive()
        if frame is not None:
            self.writer.write(frame, self.clock())
        return frame


def read_pcap(path_or_file: str | Path | BinaryIO) -> list[tuple[float, bytes]]:
    """All ``(timestamp, frame)`` records of a classic pcap file of Ethernet frames.

    Raises ParseError for anything else (pcapng, another link type, truncation)
    and OSError when the file cannot be read.
    """
    if isinstance(path_or_file, (str, Path)):
        data = Path(path_or_file).read_bytes()
    else:
        data = path_or_file.read()
    if len(data) < GLOBAL_LEN:
        raise ParseError("pcap", "header", f"{len(data)} bytes, not a pcap file")
    for order in "<>":
        magic, _, _, _, _, _, linktype = struct.unpack_from(order + GLOBAL, data)
        if magic in (MAGIC, MAGIC_NS):
            break
    else:
        if struct.unpack_from("<I", data)[0] == PCAPNG_MAGIC:
            raise ParseError("pcap", "magic", "this is pcapng; convert it with "
                             "`editcap -F pcap IN OUT` or capture with `-F pcap`")
        raise ParseError("pcap", "magic", f"{data[:4].hex()}, not a pcap file")
    if linktype != LINKTYPE_ETHERNET:
        raise ParseError("pcap", "link type", f"{linktype}, only Ethernet (1) is handled")
    scale = 1e-6 if magic == MAGIC else 1e-9
    records, pos = [], GLOBAL_LEN
    while pos < len(data):
        if pos + RECORD_LEN > len(data):
            raise ParseError("pcap", "record", f"header truncated at byte {pos}")
        sec, frac, incl_len, _ = struct.unpack_from(order + RECORD, data, pos)
        pos += RECORD_LEN
        if pos + incl_len > len(data):
            raise ParseError("pcap", "record", f"frame truncated at byte {pos}")
        records.append((sec + frac * scale, data[pos:pos + incl_len]))
        pos += incl_len
    return records
