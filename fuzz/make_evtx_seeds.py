#!/usr/bin/env python3
"""Writes the `evtx` fuzz target's seeds: tiny EVTX files made from scratch.

Real EVTX files are large and not ours to commit, so the seeds are built
here: a file header, one chunk, and records whose BinXML is a plain element
tree (no templates), which the `evtx` crate reads like Windows' own. The
records are Windows events that normalize (a logon with an IP address, a
process creation) and one that does not (no EventID), so the fuzzer starts
from both paths.

    python3 fuzz/make_evtx_seeds.py   # rewrites fuzz/seeds/evtx/*.evtx
"""

import os
import struct
import zlib

FILE_HEADER = 4096
CHUNK = 65536
CHUNK_HEADER = 512
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
# 2026-03-14T09:26:53Z as a FILETIME (100 ns ticks since 1601).
FILETIME = (1773480413 + 11644473600) * 10_000_000


class BinXml:
    """BinXML for one record, at chunk offset `base` (names are inline and
    referenced by their offset in the chunk)."""

    def __init__(self, base):
        self.base = base
        self.out = bytearray(b"\x0f\x01\x01\x00")  # fragment header 1.1

    def pos(self):
        return self.base + len(self.out)

    def name(self, text):
        # The reference points just past itself: the name follows inline.
        self.out += struct.pack("<I", self.pos() + 4)
        units = text.encode("utf-16-le")
        self.out += struct.pack("<IHH", 0, 0, len(text)) + units + b"\x00\x00"

    def text(self, value):
        self.out += b"\x05\x01" + struct.pack("<H", len(value)) + value.encode("utf-16-le")

    def element(self, tag, attrs=(), children=()):
        self.out.append(0x41 if attrs else 0x01)
        size_at = len(self.out)
        self.out += b"\0\0\0\0"  # data size, patched below
        self.name(tag)
        if attrs:
            list_at = len(self.out)
            self.out += b"\0\0\0\0"  # attribute list size, patched below
            for i, (key, value) in enumerate(attrs):
                self.out.append(0x46 if i + 1 < len(attrs) else 0x06)
                self.name(key)
                self.text(value)
            struct.pack_into("<I", self.out, list_at, len(self.out) - list_at - 4)
        if not children:
            self.out.append(0x03)  # close empty element
        else:
            self.out.append(0x02)  # close start element
            for child in children:
                if isinstance(child, str):
                    self.text(child)
                else:
                    self.element(*child)
            self.out.append(0x04)  # end element
        struct.pack_into("<I", self.out, size_at, len(self.out) - size_at - 4)

    def finish(self):
        self.out.append(0x00)  # end of stream
        return bytes(self.out)


def event(system, data):
    sys_children = [(k, a, c) for k, a, c in system]
    data_children = [("Data", [("Name", k)], [v]) for k, v in data]
    return ("Event", [("xmlns", NS)], [("System", (), sys_children), ("EventData", (), data_children)])


def system(event_id, record_id, channel="Security", computer="ws1.example.test"):
    items = [("Provider", [("Name", "Microsoft-Windows-Security-Auditing")], [])]
    if event_id is not None:
        items.append(("EventID", (), [str(event_id)]))
    items += [
        ("TimeCreated", [("SystemTime", "2026-03-14T09:26:53.1234567Z")], []),
        ("EventRecordID", (), [str(record_id)]),
        ("Execution", [("ProcessID", "4"), ("ThreadID", "8")], []),
        ("Channel", (), [channel]),
        ("Computer", (), [computer]),
    ]
    return items


RECORDS = [
    event(
        system(4625, 1),
        [("TargetUserName", "alice"), ("LogonType", "3"), ("IpAddress", "203.0.113.7"), ("IpPort", "51000")],
    ),
    event(
        system(4688, 2),
        [("NewProcessName", "C:\\Windows\\System32\\cmd.exe"), ("CommandLine", 'cmd /c "whoami"')],
    ),
    event(system(None, 3), [("Note", "no EventID")]),
]


def chunk(records, full):
    data = bytearray(CHUNK_HEADER)
    for record_id, tree in enumerate(records, start=1):
        start = len(data)
        xml = BinXml(start + 24)
        xml.element(*tree)
        body = xml.finish()
        size = 24 + len(body) + 4
        data += b"**\0\0" + struct.pack("<IQQ", size, record_id, FILETIME) + body + struct.pack("<I", size)
    free = len(data)
    last_start = start
    n = len(records)
    header = struct.pack("<8sQQQQIIII", b"ElfChnk\0", 1, n, 1, n, 128, last_start, free, zlib.crc32(data[CHUNK_HEADER:free]))
    data[: len(header)] = header
    crc = zlib.crc32(bytes(data[:120]) + bytes(data[128:CHUNK_HEADER]))
    struct.pack_into("<I", data, 124, crc)
    if full:
        data += bytes(CHUNK - len(data))
    return bytes(data)


def evtx(records, full):
    header = bytearray(FILE_HEADER)
    struct.pack_into("<8sQQQIHHHH", header, 0, b"ElfFile\0", 0, 0, len(records) + 1, 128, 2, 3, FILE_HEADER, 1)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + chunk(records, full)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "evtx")
    os.makedirs(out, exist_ok=True)
    seeds = {
        # A whole 64 KiB chunk, free space zeroed, as Windows writes it.
        "three_records.evtx": evtx(RECORDS, full=True),
        # The same chunk cut after its records: small, and the reader's
        # cut-short path.
        "cut_short.evtx": evtx(RECORDS, full=False),
        "one_record_cut.evtx": evtx(RECORDS[:1], full=False),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
