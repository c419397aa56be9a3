#!/usr/bin/env python3
"""Back up a Dolibarr instance with dolibak, then verify the run just stored.

    backup_and_verify.py --store file:///srv/backups/dolibarr --docs-dir /var/www/documents
    backup_and_verify.py --store s3://acme-backups/dolibarr --docs-dir /srv/documents \
        --config /etc/dolibak/dolibak.json --json

The database comes from libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD
or ~/.pgpass); S3 credentials from AWS's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or
AWS_PROFILE and ~/.aws). Secrets are never passed on the command line.

Steps: backup (a half whose fingerprint did not change is not uploaded again), verify of the
newest run (every byte downloaded and checked against the manifest, the whole dump archive and
the whole tar), the store's listing, and the status. Exit status 0 when all of it succeeded,
1 when the backup failed or the verification found a problem, 2 on a configuration error.
"""
import argparse
import json
import sys

import dolibak


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", help="store URL: s3://bucket/prefix or file:///dir")
    p.add_argument("--docs-dir", help="the documents directory (omit: database only)")
    p.add_argument("--config", help="a dolibak JSON config file (settings keys)")
    p.add_argument("--no-db", action="store_true", help="documents only")
    p.add_argument("--force", action="store_true", help="upload even when unchanged")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p.parse_args(argv)


def settings_from(args):
    """The settings dictionary: the same keys as the config file and DOLIBAK_* variables."""
    settings = {}
    if args.store:
        settings["store"] = args.store
    if args.docs_dir:
        settings["docs_dir"] = args.docs_dir
    if args.no_db:
        settings["db"] = False
    return settings


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        job = dolibak.Job(settings_from(args), config_file=args.config)
    except dolibak.ConfigError as e:
        print(f"backup_and_verify: {e}", file=sys.stderr)
        return 2

    try:
        backup = job.backup(force=args.force).to_dict()
        # Verify what the run stored (or found unchanged): "latest" is the newest run.
        verify = job.verify("latest").to_dict()
        listing = job.list().to_dict()
        status = job.status().to_dict()
    except dolibak.Error as e:  # the message never holds a secret
        print(f"backup_and_verify: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    backup_ok = all(h["outcome"] != "failed" for h in backup["halves"])
    verify_ok = all(o["ok"] for o in verify["objects"])

    if args.json:
        json.dump({"backup": backup, "verify": verify, "status": status,
                   "backups": len(listing["backups"])}, sys.stdout, indent=2)
        print()
    else:
        print(f"run {backup['time']}")
        for h in backup["halves"]:
            line = f"  {h['half']:<8} {h['outcome']:<10} {h['key']} ({h['bytes']} bytes)"
            if h.get("error"):
                line += f"  error: {h['error']}"
            print(line)
        for o in verify["objects"]:
            state = "ok" if o["ok"] else f"PROBLEM: {o['problem']}"
            print(f"  verified {o['key']}: {state}")
        print(f"store holds {len(listing['backups'])} backup object(s) "
              f"in {len(listing['runs'])} run(s); stale: {status['stale']}")
    return 0 if backup_ok and verify_ok else 1


if __name__ == "__main__":
    sys.exit(main())
