"""Database archives and restores through the CLI (issue 10): an archive pg_dump wrote to a
file opened for appending (the TOC's copy after the data) passes inspect, verify and
restore."""
import json
import os
import subprocess

import pytest

import pgfixture
from test_cli import CLI, run, store_url  # noqa: F401  (skips without a built CLI)
import json_contract

pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="DOLIBAK_PYTHONPATH does not lead to a built bin/dolibak")


def small_db(role):
    pgfixture.psql(role, "CREATE TABLE llx_a (id int); INSERT INTO llx_a SELECT "
                         "generate_series(1, 40); CREATE TABLE llx_b (t text); "
                         "INSERT INTO llx_b VALUES ('x');")


def test_an_archive_pg_dump_appended_to_a_file_passes_inspect_verify_restore(
        pg_server, fresh_db, empty_db, tmp_path):
    small_db(fresh_db)
    # pg_dump writing to a file opened for appending (`>>`; pg_dump 16 and later do it for
    # `>` too): its final rewrite of the TOC, with the blocks' offsets, lands after the data.
    store = tmp_path / "store"
    (store / "db").mkdir(parents=True)
    dump = store / "db" / "20260101T020000Z.dump"
    with open(dump, "ab") as out:
        subprocess.run([os.path.join(pg_server["bin_dir"], "pg_dump"), "-Fc"], stdout=out,
                       env=pgfixture.clean_env(pgfixture.libpq_env(fresh_db)), check=True)

    p = run(["inspect", "--json", str(dump)], check_rc=0)
    r = json_contract.loads(p.stdout, "inspect")
    assert r["ok"] and r["toc_copy_bytes"] > 0, r
    copy = r["toc_copy_bytes"]
    assert not r["offsets_set"]
    p = run(["inspect", str(dump)], check_rc=0)
    assert "TOC copy:" in p.stdout

    p = run(["verify", "--json", "--store", store_url(store)], check_rc=0)
    assert json_contract.loads(p.stdout, "verify")["ok"]

    target = (f"host={empty_db['host']} port={empty_db['port']} user={empty_db['user']} "
              f"dbname={empty_db['dbname']}")
    p = run(["restore", "db", "--json", "--min-tables", "2", "--store", store_url(store),
             "--to", target], env={"DOLIBAK_TARGET_PASSWORD": empty_db["password"]},
            check_rc=0)
    tables = {t["name"]: t for t in json_contract.loads(p.stdout, "restore-db")["tables"]}
    assert tables["llx_a"]["actual_rows"] == 40 and tables["llx_b"]["actual_rows"] == 1

    # Anything else after the data is refused, with its size.
    with open(dump, "ab") as out:
        out.write(b"\0" * 70000)
    p = run(["inspect", "--json", str(dump)])
    assert p.returncode != 0
    r = json_contract.loads(p.stdout, "inspect")
    assert r["defect"] == "trailing_garbage"
    assert f"{copy + 70000} bytes of trailing garbage" in r["message"], r["message"]


def dump_into_store(pg_server, role, store, args=(), ts="20260101T020000Z"):
    """A dump of `role`'s database as the old scripts stored it (no manifest)."""
    (store / "db").mkdir(parents=True, exist_ok=True)
    path = store / "db" / (ts + ".dump")
    subprocess.run([os.path.join(pg_server["bin_dir"], "pg_dump"), "-Fc", "-f", str(path)]
                   + list(args), env=pgfixture.clean_env(pgfixture.libpq_env(role)), check=True)
    return path


def conninfo(role):
    return f"host={role['host']} port={role['port']} user={role['user']} dbname={role['dbname']}"


def test_the_proof_fails_when_exclusions_leave_no_table_and_counts_inserts_as_present(
        pg_server, fresh_db, empty_db, tmp_path):
    small_db(fresh_db)
    store = tmp_path / "store"
    dump_into_store(pg_server, fresh_db, store)
    target_env = {"DOLIBAK_TARGET_PASSWORD": empty_db["password"]}
    # Exclusions that cascade to every table's data (as SCHEMA::public does in an archive
    # holding that schema's entry): nothing would be restored, nor proven.
    p = run(["restore", "db", "--exclude", "TABLE:public", "--min-tables", "0", "--store",
             store_url(store), "--to", conninfo(empty_db)], env=target_env)
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "leave none of the archive's 2 tables" in p.stderr

    # Data as INSERTs has no row count in the archive: the tables are present, not matched.
    store2 = tmp_path / "store2"
    dump_into_store(pg_server, fresh_db, store2, ["--inserts"])
    p = run(["restore", "db", "--min-tables", "2", "--store", store_url(store2), "--to",
             conninfo(empty_db), "--yes", "--clean"], env=target_env, check_rc=0)
    assert "2 tables checked, 0 with the archive's row count, 2 present" in p.stdout, p.stdout


def test_a_restore_over_the_source_needs_its_flag_and_takes_a_safety_dump(
        pg_server, fresh_db, tmp_path):
    small_db(fresh_db)
    store = tmp_path / "store"
    dump_into_store(pg_server, fresh_db, store)
    pgfixture.psql(fresh_db, "INSERT INTO llx_a VALUES (1000);")  # newer than the backup
    env = dict(pgfixture.libpq_env(fresh_db), DOLIBAK_TARGET_PASSWORD=fresh_db["password"],
               DOLIBAK_TEMP_DIR=str(tmp_path))
    cmd = ["restore", "db", "--yes", "--clean", "--min-tables", "2", "--store", store_url(store),
           "--to", conninfo(fresh_db)]

    def rows():
        return pgfixture.psql(fresh_db, "SELECT count(*) FROM llx_a", args=["-At"]).strip()

    p = run(cmd, env=env, check_rc=2)
    assert "it is the database dolibak backs up" in p.stderr
    assert rows() == "41"
    # A safety dump never replaces a file.
    existing = tmp_path / "keep.dump"
    existing.write_bytes(b"precious")
    p = run(cmd + ["--overwrite-source", "--safety-dump", str(existing)], env=env, check_rc=2)
    assert "already exists" in p.stderr
    assert existing.read_bytes() == b"precious" and rows() == "41"

    p = run(cmd + ["--overwrite-source"], env=env, check_rc=0)
    assert rows() == "40"
    safety = [f for f in os.listdir(tmp_path) if f.startswith("dolibak-safety-")]
    assert len(safety) == 1 and safety[0] in p.stdout
    r = json_contract.loads(run(["inspect", "--json", str(tmp_path / safety[0])], check_rc=0).stdout)
    assert {t["name"]: t["rows"] for t in r["tables"]}["llx_a"] == 41
