"""``dos64lab decode``: print one ``pretty()`` line per Ethernet frame.

Layer: wire (a command over it).  One job: show what frames say, from a pcap
file (``--pcap FILE``: frame number, timestamp, summary) or from hex on stdin
(one frame per line, whitespace and ``:`` allowed, ``#`` starts a comment).
Malformed frames are shown as such; the exit status is 0 unless the file
itself cannot be read or is not a classic pcap (then 2).
Run it as ``python -m dos64lab.wire.decode``.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ParseError
from .pretty import pretty

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dos64lab decode", description=__doc__.splitlines()[0])
    parser.add_argument("--pcap", metavar="FILE", help="classic pcap file of Ethernet frames "
                        "(default: hex frames on stdin, one per line)")
    args = parser.parse_args(argv)
    if args.pcap:
        from ..phy.pcap import read_pcap       # phy helper; wire itself never needs it
        try:
            records = read_pcap(args.pcap)
        except (OSError, ParseError) as err:
            print(f"dos64lab decode: {args.pcap}: {err}", file=sys.stderr)
            return 2
        for number, (timestamp, frame) in enumerate(records, 1):
            print(f"{number:5d} {timestamp:.6f} {pretty(frame)}")
        return 0
    for number, line in enumerate(_hex_lines(sys.stdin), 1):
        try:
            frame = bytes.fromhex(line)
        except ValueError as err:
            print(f"{number:5d} malformed: hex: bad digits ({err})")
            continue
        print(f"{number:5d} {pretty(frame)}")
    return 0


def _hex_lines(stream):
    for line in stream:
        line = line.split("#", 1)[0]
        digits = "".join(line.split()).replace(":", "")
        if digits:
            yield digits


if __name__ == "__main__":                   # (`dos64lab decode` goes through cli.main)
    try:
        status = main()
        sys.stdout.flush()                   # now, so a closed pipe shows up here, not at exit
    except BrokenPipeError:                  # `... | head` stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status)
