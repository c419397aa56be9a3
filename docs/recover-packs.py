#!/usr/bin/env python3
"""Rebuild one packs-mode documents run from a copy of the store's objects, without dolibak.

Needs Python 3 (standard library only) and the `zstd` command; for an encrypted run
(`age_recipients`: `docs/<RUN>.index.zst.age` and `.pack.age` packs) also the `age` command.
The format is described in docs/packs.md. Usage:

    python3 recover-packs.py [--identity KEY_FILE] STORE_DIR RUN TARGET

STORE_DIR is a directory holding the store's objects under their keys (a `file://` store, or
`aws s3 sync s3://bucket/prefix STORE_DIR`), RUN the run's time stamp (20261123T020000Z), and
TARGET a directory that must not exist yet. STORE_DIR needs the run's index
(docs/RUN.index.zst, or .age: of version 2, it names the root of a tree of pieces, each a
directory's entries, stored in the packs like content) and the whole packs/ folder: the
packs, and the move records
under packs/moved/ (a pack that was repacked is gone; its record says where each of its blobs
is now). KEY_FILE is an age identity file (as age-keygen writes it) for an encrypted run: the
index, each pack and each move record (.json.age) are decrypted with `age -d -i KEY_FILE`.
Every blob is checked against its SHA-256; paths that are absolute or contain `..` are
refused. Owners are not restored; modes lose the set-id, sticky and world-writable bits, as
dolibak's own restore does.
"""
import argparse
import collections
import hashlib
import json
import os
import re
import subprocess


def zstd_decompress(data):
    done = subprocess.run(["zstd", "-d", "-c", "-q"], input=data, stdout=subprocess.PIPE,
                          check=True)
    return done.stdout


def age_decrypt(path, identity):
    if identity is None:
        raise SystemExit(f"{path} is encrypted: give the age identity file with --identity")
    done = subprocess.run(["age", "-d", "-i", identity, path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{path}: age cannot decrypt it: "
                         f"{done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


class Packs:
    """The packs' bytes: read in place, or decrypted whole (a few recently used kept)."""

    def __init__(self, store, identity):
        self.store = store
        self.identity = identity
        self.decrypted = collections.OrderedDict()
        self.moved = {}  # move record path -> {old offset: frame}

    def locate(self, blob):
        """The pack and offset that hold a blob's frame now, through the move records."""
        pack, offset = blob["pack"], blob["offset"]
        for _ in range(64):
            m = re.fullmatch(r"packs/[0-9a-f]{2}/([0-9a-f]{64})\.pack(\.age)?", pack)
            if not m:
                raise SystemExit(f"refusing the pack name {pack!r}")
            if os.path.exists(os.path.join(self.store, pack)):
                return pack, offset
            # the record of an encrypted pack is encrypted too: <sha256>.json.age
            record = os.path.join(self.store, "packs", "moved",
                                  m.group(1) + ".json" + (m.group(2) or ""))
            if not os.path.exists(record):
                raise SystemExit(f"{pack} is missing (and has no move record)")
            if record not in self.moved:
                if record.endswith(".age"):
                    text = age_decrypt(record, self.identity)
                else:
                    with open(record, "rb") as f:
                        text = f.read()
                self.moved[record] = {f["offset"]: f for f in json.loads(text)["frames"]}
            frame = self.moved[record].get(offset)
            if frame is None or frame["length"] != blob["length"]:
                raise SystemExit(f"{pack} is missing and its move record lacks the blob at "
                                 f"{offset}")
            pack, offset = frame["pack"], frame["to"]
        raise SystemExit(f"the move records from {blob['pack']} loop")

    def frame(self, blob):
        pack_key, offset = self.locate(blob)
        path = os.path.join(self.store, pack_key)
        if not pack_key.endswith(".age"):
            with open(path, "rb") as pack:
                pack.seek(offset)
                return pack.read(blob["length"])
        if pack_key not in self.decrypted:
            if len(self.decrypted) >= 4:
                self.decrypted.popitem(last=False)
            self.decrypted[pack_key] = age_decrypt(path, self.identity)
        self.decrypted.move_to_end(pack_key)
        return self.decrypted[pack_key][offset:offset + blob["length"]]


def name_of(entry, field):
    if field in entry:
        return os.fsencode(entry[field])
    return bytes.fromhex(entry[field + "_hex"])


def safe_join(target, path):
    parts = path.split(b"/")
    if path.startswith(b"/") or any(p in (b"", b".", b"..") for p in parts):
        raise SystemExit(f"refusing the path {path!r}")
    return os.path.join(target, path)


def read_blob(packs, blob):
    frame = packs.frame(blob)
    try:
        data = zstd_decompress(frame)
    except subprocess.CalledProcessError:
        raise SystemExit(f"blob {blob['sha256']} in {blob['pack']} cannot be decompressed")
    if len(data) != blob["size"] or hashlib.sha256(data).hexdigest() != blob["sha256"]:
        raise SystemExit(f"blob {blob['sha256']} in {blob['pack']} does not match its digest")
    return data


def piece(packs, ref):
    """A piece of a version 2 index: its header and its lines (entries, or parts)."""
    lines = read_blob(packs, ref).decode("utf-8").split("\n")
    if len(lines) < 2 or lines[-1] != "":
        raise SystemExit(f"the piece {ref['sha256']} is malformed")
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:-1]]


def in_pack(ref, holder):
    """A piece's reference; "." names the pack of the piece that holds the reference."""
    return dict(ref, pack=holder["pack"]) if ref["pack"] == "." else ref


def tree_entries(packs, ref, prefix=b""):
    """(path, entry) of a tree of pieces, parents first: a directory's piece lists its
    entries, or the parts that do (a large directory)."""
    header, rows = piece(packs, ref)
    groups = [(ref, rows)]
    if header.get("parts"):
        groups = ((in_pack(p, ref), None) for p in rows)
    for holder, entries in groups:
        for entry in entries if entries is not None else piece(packs, holder)[1]:
            name = name_of(entry, "name")
            if name in (b"", b".", b"..") or b"/" in name:
                raise SystemExit(f"refusing the name {name!r}")
            yield prefix + name, entry
            if entry["type"] == "dir":
                yield from tree_entries(packs, in_pack(entry["piece"], holder),
                                        prefix + name + b"/")


def main(store, run, target, identity=None):
    index = os.path.join(store, "docs", run + ".index.zst")
    if os.path.exists(index):
        with open(index, "rb") as f:
            compressed = f.read()
    elif os.path.exists(index + ".age"):
        compressed = age_decrypt(index + ".age", identity)
    else:
        raise SystemExit(f"no index {index} (or .age) in the store copy")
    lines = zstd_decompress(compressed).decode("utf-8").splitlines()
    packs = Packs(store, identity)
    header = json.loads(lines[0]) if lines else {}
    if header.get("format") != "dolibak-docs-index" or header.get("version") not in (1, 2):
        raise SystemExit("not a dolibak documents index of version 1 or 2")
    if len(lines) < 2 or "end" not in json.loads(lines[-1]):
        raise SystemExit("the index has no trailer: truncated")
    if header["version"] == 2:  # a tree of pieces, in the packs
        entries = tree_entries(packs, header["root"])
    else:  # the whole tree, one line per entry
        entries = ((name_of(e, "path"), e) for e in map(json.loads, lines[1:-1]))
    target = os.fsencode(target)
    os.mkdir(target, 0o700)
    directories = []
    symlinks = set()
    for relative, entry in entries:
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
                    out.write(read_blob(packs, blob))
            os.chmod(path, mode)
            os.utime(path, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    for path, mode, mtime_ns in reversed(directories):
        os.chmod(path, mode)
        os.utime(path, ns=(mtime_ns, mtime_ns))
    os.chmod(target, 0o755)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identity", metavar="KEY_FILE", help="an age identity file")
    parser.add_argument("store")
    parser.add_argument("run")
    parser.add_argument("target")
    args = parser.parse_args()
    main(args.store, args.run, args.target, args.identity)
