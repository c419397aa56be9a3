"""dolibak.pgdump.read_archive on archives made by the real pg_dump from a generated
Dolibarr-like database."""
import io
import os
import subprocess

import pytest

import dolibarr_gen

dolibak = pytest.importorskip("dolibak")


def _env(role, bin_dir):
    return dict(os.environ, PGHOST=role["host"], PGPORT=str(role["port"]), PGUSER=role["user"],
                PGPASSWORD=role["password"], PGDATABASE=role["dbname"], PGPASSFILE="/dev/null",
                PATH=bin_dir + ":" + os.environ.get("PATH", ""))


@pytest.fixture(scope="module")
def archive(tmp_path_factory, pg_server):
    import pgfixture
    su = pg_server["superuser"]
    name = "t_pydump"
    pgfixture.psql(su, "DROP DATABASE IF EXISTS %s WITH (FORCE); CREATE DATABASE %s OWNER %s;"
                   % (name, name, pg_server["prod"]["user"]), bin_dir=pg_server["bin_dir"])
    role = dict(pg_server["prod"], dbname=name)
    env = _env(role, pg_server["bin_dir"])
    dolibarr_gen.create_db(env={k: env[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD",
                                                     "PGDATABASE", "PATH")}, scale=50, seed=2)
    path = tmp_path_factory.mktemp("pgdump") / "x.dump"
    subprocess.run([os.path.join(pg_server["bin_dir"], "pg_dump"), "-Fc", "-f", str(path)],
                   env=env, check=True)
    listing = subprocess.run([os.path.join(pg_server["bin_dir"], "pg_restore"), "-l", str(path)],
                             capture_output=True, text=True, check=True).stdout
    return path, listing


def test_read_archive_from_path_and_file(archive):
    path, _ = archive
    s = dolibak.pgdump.read_archive(str(path))
    assert s["format_version"] == "1.14-0"
    assert s["dbname"] == "t_pydump"
    assert s["large_objects"] == 1
    assert len(s["tables"]) > 250
    assert s["counts_by_type"]["VIEW"] == 3
    assert any(t["name"] == "llx_facture" and t["rows"] == 50 for t in s["tables"])
    with open(path, "rb") as f:
        s2 = dolibak.pgdump.read_archive(f)
    assert s2["tables"] == s["tables"]
    assert len(s2["entries"]) == s["toc_entries"]


def test_listing_equals_pg_restore(archive):
    path, listing = archive
    ours = dolibak.pgdump.listing(path, header=False)
    theirs = "".join(l + "\n" for l in listing.splitlines() if l and not l.startswith(";"))
    assert ours == theirs


def test_defects(archive):
    path, _ = archive
    data = path.read_bytes()
    with pytest.raises(dolibak.FormatError):
        dolibak.pgdump.read_archive(io.BytesIO(data[:1024]))
    v = dolibak.pgdump.verify_archive(io.BytesIO(data[:1024]))
    assert v["ok"] is False
    assert v["defect"] == "truncated_toc"
    assert v["offset"] == 1024
    v = dolibak.pgdump.verify_archive(io.BytesIO(b""))
    assert v["defect"] == "empty"
    v = dolibak.pgdump.verify_archive(io.BytesIO(b"GARBAGE!" * 10))
    assert v["defect"] == "bad_magic"
    assert dolibak.pgdump.verify_archive(path)["ok"] is True
