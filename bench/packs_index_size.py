#!/usr/bin/env python3
"""What a packs-mode index costs per file, and what each field costs (figures only).

    bench/packs_index_size.py INDEX.zst

Decompresses a run's index (docs/<ts>.index.zst) with the zstd command and prints its
compressed size per file at several zstd levels, then the same lines rewritten without some
of their fields (or with a field in a cheaper form), to show where the bytes go: what a
smaller format could save, and what no format can (a 32-byte digest per file does not
compress).
"""
import copy
import json
import subprocess
import sys


def zsize(data, level):
    out = subprocess.run(["zstd", "-q", "-c", "-%d" % level] + (["--ultra"] if level > 19 else []),
                         input=data, stdout=subprocess.PIPE, check=True).stdout
    return len(out)


def main():
    raw = subprocess.run(["zstd", "-q", "-dc", sys.argv[1]], stdout=subprocess.PIPE,
                         check=True).stdout
    with open(sys.argv[1], "rb") as f:
        stored = len(f.read())
    lines = raw.decode().splitlines()
    header, entries, trailer = lines[0], [json.loads(l) for l in lines[1:-1]], lines[-1]
    files = sum(1 for e in entries if e.get("type") == "file")
    print("index: %d entries, %d files, %d bytes uncompressed (%.0f per entry), %d bytes "
          "compressed as stored (%.1f per file)" % (len(entries), files, len(raw),
                                                   len(raw) / max(1, len(entries)),
                                                   stored, stored / max(1, files)))

    packs = {}

    def variant(name, f):
        rows = (f(copy.deepcopy(e), i) for i, e in enumerate(entries))
        body = (header + "\n" + "\n".join(json.dumps(r, separators=(",", ":")) for r in rows
                                          if r is not None) + "\n" + trailer + "\n")
        data = body.encode()
        sizes = [zsize(data, lv) for lv in (6, 12, 19)]
        print("%-48s %10d %8.1f %8.1f %8.1f" % (name, len(data), *(s / max(1, files) for s in sizes)))

    print("%-48s %10s %8s %8s %8s" % ("variant", "raw bytes", "z6 B/f", "z12 B/f", "z19 B/f"))

    def same(e, i):
        return e

    def pack_number(e, i):
        for b in e.get("blobs", []):
            b["pack"] = packs.setdefault(b["pack"], len(packs))
        return e

    def no_single_size(e, i):
        e = pack_number(e, i)
        if len(e.get("blobs", [])) == 1:
            e["blobs"][0].pop("size")
        return e

    def no_change_detection(e, i):
        e = no_single_size(e, i)
        e.pop("ctime_ns", None)
        e.pop("inode", None)
        return e

    def mtime_seconds(e, i):
        e = no_single_size(e, i)
        for k in ("mtime_ns", "ctime_ns"):
            if k in e and e[k] % 1_000_000_000 == 0:
                e[k] //= 1_000_000_000
        return e

    def no_digest(e, i):
        e = no_single_size(e, i)
        for b in e.get("blobs", []):
            b.pop("sha256")
        return e

    def no_dirs(e, i):
        return no_single_size(e, i) if e.get("type") != "dir" else None

    def names_only(e, i):
        return {"path": e.get("path", e.get("path_hex"))}

    variant("version 1 as written", same)
    variant("pack key -> pack number (header table)", pack_number)
    variant("+ a single blob's size dropped (= file size)", no_single_size)
    variant("+ mtime/ctime in seconds when whole", mtime_seconds)
    variant("+ no ctime_ns, inode (not possible: detection)", no_change_detection)
    variant("+ no sha256 (not possible: integrity, dedup)", no_digest)
    variant("+ no directory lines (implied by file paths)", no_dirs)
    variant("paths alone (a floor for any full listing)", names_only)


if __name__ == "__main__":
    main()
