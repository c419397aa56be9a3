#!/usr/bin/env python3
"""Rebuild one packs-mode documents run from a copy of the store's objects, without dolibak.

Needs Python 3 (standard library only) and the `zstd` command. The format is described in
docs/packs.md. Usage:

    python3 recover-packs.py STORE_DIR RUN TARGET

STORE_DIR is a directory holding the store's objects under their keys (a `file://` store, or
`aws s3 sync s3://bucket/prefix STORE_DIR`), RUN the run's time stamp (20261123T020000Z), and
TARGET a directory that must not exist yet. STORE_DIR needs the run's index
(docs/RUN.index.zst) and the whole packs/ folder: the packs, and the move records under
packs/moved/ (a pack that was repacked is gone; its record says where each of its blobs is
now). Every blob is checked against its SHA-256; paths that are absolute or contain `..` are
refused. Owners are not restored; modes lose the set-id, sticky and world-writable bits, as
dolibak's own restore does.
"""
import hashlib
import json
import os
import re
import subprocess
import sys


def zstd_decompress(data):
    done = subprocess.run(["zstd", "-d", "-c", "-q"], input=data, stdout=subprocess.PIPE,
                          check=True)
    return done.stdout


def name_of(entry, field):
    if field in entry:
        return os.fsencode(entry[field])
    return bytes.fromhex(entry[field + "_hex"])


def safe_join(target, path):
    parts = path.split(b"/")
    if path.startswith(b"/") or any(p in (b"", b".", b"..") for p in parts):
        raise SystemExit(f"refusing the path {path!r}")
    return os.path.join(target, path)


MOVED = {}  # move record path -> {old offset: frame}


def locate(store, blob):
    """The pack and offset that hold a blob's frame now, through the move records."""
    pack, offset = blob["pack"], blob["offset"]
    for _ in range(64):
        if not re.fullmatch(r"packs/[0-9a-f]{2}/[0-9a-f]{64}\.pack", pack):
            raise SystemExit(f"refusing the pack name {pack!r}")
        if os.path.exists(os.path.join(store, pack)):
            return pack, offset
        name = os.path.basename(pack)[:-len(".pack")]
        moved = os.path.join(store, "packs", "moved", name + ".json")
        if not os.path.exists(moved):
            raise SystemExit(f"{pack} is missing (and has no move record)")
        if moved not in MOVED:
            with open(moved, "rb") as f:
                MOVED[moved] = {m["offset"]: m for m in json.load(f)["frames"]}
        frame = MOVED[moved].get(offset)
        if frame is None or frame["length"] != blob["length"]:
            raise SystemExit(f"{pack} is missing and its move record lacks the blob at {offset}")
        pack, offset = frame["pack"], frame["to"]
    raise SystemExit(f"the move records from {blob['pack']} loop")


def read_blob(store, blob):
    pack_key, offset = locate(store, blob)
    with open(os.path.join(store, pack_key), "rb") as pack:
        pack.seek(offset)
        frame = pack.read(blob["length"])
    try:
        data = zstd_decompress(frame)
    except subprocess.CalledProcessError:
        raise SystemExit(f"blob {blob['sha256']} in {blob['pack']} cannot be decompressed")
    if len(data) != blob["size"] or hashlib.sha256(data).hexdigest() != blob["sha256"]:
        raise SystemExit(f"blob {blob['sha256']} in {blob['pack']} does not match its digest")
    return data


def main(store, run, target):
    with open(os.path.join(store, "docs", run + ".index.zst"), "rb") as f:
        lines = zstd_decompress(f.read()).decode("utf-8").splitlines()
    header = json.loads(lines[0]) if lines else {}
    if header.get("format") != "dolibak-docs-index" or header.get("version") != 1:
        raise SystemExit("not a dolibak documents index of version 1")
    if len(lines) < 2 or "end" not in json.loads(lines[-1]):
        raise SystemExit("the index has no trailer: truncated")
    target = os.fsencode(target)
    os.mkdir(target, 0o700)
    directories = []
    symlinks = set()
    for line in lines[1:-1]:
        entry = json.loads(line)
        relative = name_of(entry, "path")
        path = safe_join(target, relative)
        parts = relative.split(b"/")
        if any(b"/".join(parts[:i]) in symlinks for i in range(1, len(parts))):
            raise SystemExit(f"refusing {relative!r}: it is under a symlink")
        mode = entry["mode"] & 0o775
        if entry["type"] == "dir":
            os.mkdir(path, 0o700)
            directories.append((path, mode, entry["mtime_ns"]))
        elif entry["type"] == "symlink":
            link = name_of(entry, "target")
            if link.startswith(b"/"):
                raise SystemExit(f"refusing the absolute symlink {path!r}")
            os.symlink(link, path)
            symlinks.add(relative)
        else:
            with open(path, "xb") as out:
                for blob in entry["blobs"]:
                    out.write(read_blob(store, blob))
            os.chmod(path, mode)
            os.utime(path, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    for path, mode, mtime_ns in reversed(directories):
        os.chmod(path, mode)
        os.utime(path, ns=(mtime_ns, mtime_ns))
    os.chmod(target, 0o755)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
