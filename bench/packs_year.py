#!/usr/bin/python3
"""One simulated year of daily documents changes in `docs_mode packs`, as whole CLI runs.

Issue 13's target: after a year of daily changes (~0.2% of the files a day) with the default
retention, the store holds at most 1.1x the unique content of the runs it keeps.

A generated Dolibarr-like documents tree (tools/dolibarr_gen.py docs), then, for each day of
the year: new invoices' PDFs (new folders) and a few rewritten PDFs (fresh, incompressible
bytes), sometimes a deleted one; `dolibak backup --docs-only --docs-mode packs --now <day>`
and `dolibak prune --now <day>` (the CronJob's pair; prune collects the packs no kept run
needs and repacks mostly-garbage ones). The script records what each day's tree holds
(SHA-256 and size of every file the documents half stores: the profile's excludes left out),
so that at the end it knows the unique content of the runs the store still lists: the sum of
the sizes of the distinct file contents their indexes name. It prints the store's size
beside it, the ratio, what the tar mode would hold for the same kept runs (one archive per
uploaded run), and the time of the backups, the prunes and a restore of the latest run.
Figures only, no assertions.

    bench/packs_year.py BUILD_DIR [--docs-scale N] [--days D] [--rate R] [--seed S]
"""
import argparse
import array
import datetime
import fnmatch
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The dolibarr profile's document excludes (libdolibak/job/profile.cpp): what it never stores.
EXCLUDES = ["*/temp/*", "*.pdf_preview*.png", "/dolibarr.log", "/dolibarr_*.log"]


def excluded(rel):
    for p in EXCLUDES:
        if p.startswith("/"):
            if fnmatch.fnmatchcase("/" + rel, p):
                return True
        elif fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase("x/" + rel, p):
            return True
    return False


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def store_bytes(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--docs-scale", type=int, default=2000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rate", type=float, default=0.002, help="files changed a day / files")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    cli = os.path.join(os.path.abspath(a.build_dir), "bin", "dolibak")
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="dolibak-bench-year.")
    tree, store = os.path.join(work, "tree"), os.path.join(work, "store")
    try:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools/dolibarr_gen.py"), "docs",
                        "--scale", str(a.docs_scale), "--seed", str(a.seed), "--out", tree],
                       check=True, stdout=subprocess.DEVNULL)
        # The tree's stored files: relative path -> content id; contents: id -> size.
        ids, sizes, files = {}, array.array("Q"), {}

        def note(rel):
            full = os.path.join(tree, rel)
            key = (digest(full), os.path.getsize(full))
            if key not in ids:
                ids[key] = len(sizes)
                sizes.append(key[1])
            files[rel] = ids[key]

        for d, _, names in os.walk(tree):
            for n in names:
                rel = os.path.relpath(os.path.join(d, n), tree)
                if not excluded(rel):
                    note(rel)
        pdfs = sorted(r for r in files if r.endswith(".pdf"))
        n0, b0 = len(files), sum(sizes[i] for i in files.values())
        print("== tree: %d stored files, %.1f MB (scale %d); %d days, %.2f%% of the files a day"
              % (n0, b0 / 1e6, a.docs_scale, a.days, a.rate * 100))
        common = ["--docs-dir", tree, "--store", "file://" + store, "--docs-mode", "packs"]
        state = {}  # day's ts -> array of the content ids its tree holds
        t0 = datetime.datetime(2025, 1, 1, 2, 0, 0)
        backup_s, prune_s, uploaded_days = [], [], 0
        for day in range(a.days):
            now = t0 + datetime.timedelta(days=day)
            ts = now.strftime("%Y%m%dT%H%M%SZ")
            if day > 0:
                changes = max(1, round(a.rate * len(files)))
                for _ in range(changes):
                    r = rng.random()
                    if r < 0.75:  # a new invoice and its PDF
                        ref = "FA%s-Y%05d" % (now.strftime("%y%m"), rng.randrange(100000))
                        rel = os.path.join("facture", ref, ref + ".pdf")
                        os.makedirs(os.path.join(tree, "facture", ref), exist_ok=True)
                        size = rng.randint(40_000, 300_000)
                        pdfs.append(rel)
                    elif r < 0.97:  # a PDF regenerated with new bytes
                        rel = rng.choice(pdfs)
                        size = rng.randint(40_000, 300_000)
                    else:  # a document deleted
                        rel = pdfs.pop(rng.randrange(len(pdfs)))
                        os.unlink(os.path.join(tree, rel))
                        files.pop(rel, None)
                        continue
                    with open(os.path.join(tree, rel), "wb") as f:
                        f.write(rng.randbytes(size))
                    note(rel)
            state[ts] = array.array("Q", files.values())
            start = time.monotonic()
            p = subprocess.run([cli, "backup", "--docs-only", "--json", "--now", ts,
                                "--create-store-dir"] + common, capture_output=True, text=True)
            backup_s.append(time.monotonic() - start)
            if p.returncode != 0:
                sys.exit("backup of %s failed:\n%s%s" % (ts, p.stdout, p.stderr))
            half = [h for h in json.loads(p.stdout)["halves"] if h["half"] == "docs"][0]
            uploaded_days += half["outcome"] == "uploaded"
            start = time.monotonic()
            p = subprocess.run([cli, "prune", "--now", ts] + common, capture_output=True,
                               text=True)
            prune_s.append(time.monotonic() - start)
            if p.returncode != 0:
                sys.exit("prune of %s failed:\n%s%s" % (ts, p.stdout, p.stderr))
            if (day + 1) % 30 == 0:
                print("day %3d: store %.1f MB, backup %.2f s, prune %.2f s"
                      % (day + 1, store_bytes(store) / 1e6, backup_s[-1], prune_s[-1]),
                      flush=True)

        listed = json.loads(subprocess.run([cli, "list", "--json", "--store", "file://" + store],
                                           check=True, capture_output=True, text=True).stdout)
        kept_objects = set()
        for run in listed["runs"]:
            docs = run["halves"].get("docs")
            if docs and docs.get("key"):
                kept_objects.add(docs["key"])
        unique = set()
        for key in kept_objects:
            ts = key.split("/")[-1].split(".")[0]
            unique.update(state[ts])
        unique_bytes = sum(sizes[i] for i in unique)
        tar_bytes = sum(sum(sizes[i] for i in state[k.split("/")[-1].split(".")[0]])
                        for k in kept_objects)
        total = store_bytes(store)
        restore_to = os.path.join(work, "restored")
        start = time.monotonic()
        subprocess.run([cli, "restore", "docs", "latest", "--to", restore_to, "--yes",
                        "--store", "file://" + store, "--docs-mode", "packs"], check=True,
                       capture_output=True)
        restore_s = time.monotonic() - start
        backup_s.sort()
        prune_s.sort()
        print("== after %d days (%d with an upload): %d runs listed, %d distinct indexes kept"
              % (a.days, uploaded_days, len(listed["runs"]), len(kept_objects)))
        print("unique content of the kept runs:   %14s bytes" % format(unique_bytes, ","))
        print("store (every object):              %14s bytes" % format(total, ","))
        print("ratio store / unique content:      %14.3f" % (total / unique_bytes))
        print("tar mode, one archive per kept run: %13s bytes (uncompressed content, %.1fx)"
              % (format(tar_bytes, ","), tar_bytes / unique_bytes))
        print("backup wall s: median %.2f, max %.2f; prune wall s: median %.2f, max %.2f"
              % (backup_s[len(backup_s) // 2], backup_s[-1], prune_s[len(prune_s) // 2],
                 prune_s[-1]))
        print("restore docs latest: %.2f s" % restore_s)
    finally:
        if a.keep:
            print("work directory kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
