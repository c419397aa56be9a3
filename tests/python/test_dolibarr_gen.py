"""The Dolibarr-like generator (tools/dolibarr_gen.py) against a real PostgreSQL 15."""
import hashlib
import os
import secrets
import stat
import subprocess
import sys

import pytest

import dolibarr_gen as gen
import pgfixture

SCALE = 200
SEED = 7


def _q(role, sql):
    return pgfixture.psql(role, sql, args=["-At"]).strip()


def _new_db(pg):
    name = "gen_" + secrets.token_hex(5)
    pgfixture.psql(pg["superuser"], "CREATE DATABASE %s OWNER prod_owner;" % name)
    return dict(pg["prod"], dbname=name)


@pytest.fixture(scope="module")
def gen_dbs(pg_server):
    """Two databases generated with the same scale and seed: one through the Python API,
    one through the CLI (as the owner role, from the libpq variables)."""
    a = _new_db(pg_server)
    b = _new_db(pg_server)
    r = gen.create_db(pgfixture.libpq_env(a), SCALE, SEED)
    assert r["tables"] == len(gen.ALL_TABLES)
    p = subprocess.run([sys.executable, gen.__file__, "db", "--scale", str(SCALE), "--seed", str(SEED)],
                       env=pgfixture.clean_env(pgfixture.libpq_env(b)), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "tables" in p.stderr and "rows" in p.stderr
    yield a, b
    for role in (a, b):
        pgfixture.psql(pg_server["superuser"], "DROP DATABASE IF EXISTS %s WITH (FORCE);" % role["dbname"],
                       check=False)


@pytest.fixture(scope="module")
def docs_trees(tmp_path_factory):
    a = tmp_path_factory.mktemp("docs_a")
    b = tmp_path_factory.mktemp("docs_b") / "tree"
    gen.create_docs(str(a), SCALE, SEED)
    p = subprocess.run([sys.executable, gen.__file__, "docs", "--out", str(b), "--scale", str(SCALE),
                        "--seed", str(SEED)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return str(a), str(b)


def _tree(root):
    """[(relpath, type, mode, mtime, sha256)] of every entry under root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISDIR(st.st_mode):
                out.append((rel, "d", stat.S_IMODE(st.st_mode), int(st.st_mtime), None))
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out.append((rel, "f", stat.S_IMODE(st.st_mode), int(st.st_mtime), h))
    return sorted(out)


def _is_document(rel):
    # independent of gen.ecm_indexed on purpose: what a Dolibarr admin calls a document
    parts = rel.split("/")
    return (len(parts) > 1 and parts[0] not in ("mycompany", "doctemplates", "admin")
            and "temp" not in parts and "thumbs" not in parts and ".pdf_preview" not in parts[-1])


# ------------------------------------------------------------------ catalog and schema

def test_catalog_shape():
    n = len(gen.ALL_TABLES)
    assert 250 <= n <= 320
    assert 0.50 <= len(gen.TMS_TABLES) / n <= 0.65
    assert set(gen.TRIGGER_TABLES) < set(gen.TMS_TABLES)
    assert 0.6 <= len(gen.TRIGGER_TABLES) / len(gen.TMS_TABLES) <= 0.8
    assert len(gen.LINE_TABLES) >= 25 and len(gen.EXTRAFIELDS_TABLES) >= 55
    assert len(gen.DICT_TABLES) >= 45 and len(gen.LINK_TABLES) >= 20 and len(gen.HEADER_TABLES) >= 38
    for t in ("llx_facture", "llx_societe", "llx_product", "llx_user"):
        assert t in gen.TRIGGER_TABLES
    for t in ("llx_holiday", "llx_categorie", "llx_ticket", "llx_product_lot", "llx_accounting_bookkeeping"):
        assert t in gen.TMS_NO_TRIGGER_TABLES
    for t in gen.VOLATILE_TABLES + ["llx_blockedlog", "llx_ecm_files", "llx_actioncomm"]:
        assert t in gen.TABLES
    fks = sum(len(t.fks) for t in gen.TABLES.values())
    assert n / 1.5 <= fks <= n


def test_tables_in_database(gen_dbs):
    a, _ = gen_dbs
    tables = _q(a, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                   "AND table_type = 'BASE TABLE' AND table_name LIKE 'llx\\_%' ORDER BY 1;").split()
    assert tables == gen.ALL_TABLES
    assert 250 <= len(tables) <= 320
    tms = _q(a, "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_name = 'tms' AND table_name LIKE 'llx\\_%' ORDER BY 1;").split()
    tms = [t for t in tms if t in tables]  # views too have a tms column
    assert tms == gen.TMS_TABLES
    assert 0.50 <= len(tms) / len(tables) <= 0.65
    ddl = _q(a, "SELECT data_type, is_nullable, column_default FROM information_schema.columns "
                "WHERE table_name = 'llx_facture' AND column_name = 'tms';")
    assert ddl == "timestamp without time zone|NO|now()"
    trig = _q(a, "SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                 "JOIN pg_proc p ON p.oid = g.tgfoid WHERE NOT g.tgisinternal "
                 "AND p.proname = 'update_modified_column_tms' ORDER BY 1;").split()
    assert trig == gen.TRIGGER_TABLES
    assert set(trig) < set(tms)


def test_schema_details(gen_dbs):
    a, _ = gen_dbs
    assert _q(a, "SELECT pg_get_serial_sequence('llx_facture', 'rowid');") == "public.llx_facture_rowid_seq"
    assert _q(a, "SELECT pg_get_serial_sequence('llx_actioncomm', 'id');") == "public.llx_actioncomm_id_seq"
    assert _q(a, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = 'llx_facture'::regclass AND attname = 'total_ttc';") == "numeric(24,8)"
    assert _q(a, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = 'llx_facture'::regclass AND attname = 'fk_statut';") == "smallint"
    nfk, ndef = _q(a, "SELECT count(*), count(*) FILTER (WHERE condeferrable AND NOT condeferred) "
                      "FROM pg_constraint WHERE contype = 'f';").split("|")
    assert int(nfk) == int(ndef) and len(gen.ALL_TABLES) / 1.5 <= int(nfk) <= len(gen.ALL_TABLES)
    # every fk_* column has an index whose first column it is
    missing = _q(a, """
        SELECT count(*) FROM information_schema.columns c
         WHERE c.table_schema = 'public' AND c.table_name LIKE 'llx\\_%' AND c.column_name LIKE 'fk\\_%'
           AND c.table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public')
           AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute at ON at.attrelid = i.indrelid
                            AND at.attnum = i.indkey[0]
                           WHERE i.indrelid = (quote_ident(c.table_name))::regclass
                             AND at.attname = c.column_name);""")
    assert missing == "0"
    funcs = _q(a, "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1;").split()
    for f in ("update_modified_column_tms", "unix_timestamp", "date_format", "year", "month", "day"):
        assert f in funcs
    assert _q(a, "SELECT year('2023-04-05 10:00'::timestamp), unix_timestamp('1970-01-02 00:00'::timestamp), "
                 "date_format('2023-04-05 10:20:30'::timestamp, '%Y-%m-%d %H:%i');") == "2023|86400|2023-04-05 10:20"
    assert int(_q(a, "SELECT count(*) FROM pg_views WHERE viewname LIKE 'llx\\_%';")) >= 3
    assert int(_q(a, "SELECT count(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
                     "WHERE d.objsubid = 0 AND c.relname LIKE 'llx\\_%';")) >= 3
    assert int(_q(a, "SELECT count(*) FROM pg_largeobject_metadata;")) >= 1
    assert _q(a, "SELECT bytes = length(lo_get(content)) FROM llx_document_blob;") == "t"
    # the owner role is not superuser and owns everything
    assert _q(a, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'llx\\_%' AND tableowner <> 'prod_owner';") == "0"


def test_line_tables_have_no_tms(gen_dbs):
    a, _ = gen_dbs
    for t in ("llx_facturedet", "llx_propaldet", "llx_commandedet", "llx_facture_fourn_det") + tuple(gen.LINE_TABLES):
        assert t in gen.NO_TMS_TABLES
    with_tms = _q(a, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'tms' AND table_name IN (%s);"
                  % ", ".join("'%s'" % t for t in gen.LINE_TABLES + gen.DICT_TABLES + gen.LINK_TABLES))
    assert with_tms == "0"


def test_trigger_moves_tms_only_where_present(gen_dbs):
    a, _ = gen_dbs
    out = _q(a, """
        BEGIN;
        CREATE TEMP TABLE before AS
          SELECT 'f' AS k, tms FROM llx_facture WHERE rowid = 3
          UNION ALL SELECT 'b', tms FROM llx_accounting_bookkeeping WHERE rowid = 3
          UNION ALL SELECT 'h', tms FROM llx_holiday WHERE rowid = 3;
        UPDATE llx_facture SET note_private = 'edited' WHERE rowid = 3;
        UPDATE llx_accounting_bookkeeping SET label_operation = 'edited' WHERE rowid = 3;
        UPDATE llx_holiday SET note_private = 'edited' WHERE rowid = 3;
        SELECT string_agg(k || '=' || (b.tms = cur.tms)::text, ',' ORDER BY k) FROM before b JOIN (
          SELECT 'f' AS k2, tms FROM llx_facture WHERE rowid = 3
          UNION ALL SELECT 'b', tms FROM llx_accounting_bookkeeping WHERE rowid = 3
          UNION ALL SELECT 'h', tms FROM llx_holiday WHERE rowid = 3) cur ON cur.k2 = b.k;
        ROLLBACK;""")
    assert out == "b=true,f=false,h=true"


# ------------------------------------------------------------------ data

def test_row_counts_follow_scale(gen_dbs):
    a, _ = gen_dbs
    for t, ratio in gen.LARGE_TABLES.items():
        n = int(_q(a, "SELECT count(*) FROM %s;" % t))
        assert abs(n - ratio * SCALE) <= 0.06 * ratio * SCALE + 2, (t, n)
    assert _q(a, "SELECT count(*) FROM llx_c_country;") == "251"
    assert _q(a, "SELECT count(*) FROM llx_c_regions;") == "338"
    assert _q(a, "SELECT count(*) FROM llx_c_departements;") == "1839"
    assert _q(a, "SELECT count(*) FROM llx_c_tva;") == "231"
    assert _q(a, "SELECT count(*) FROM llx_c_currencies;") == "152"
    for t in ("llx_const", "llx_user", "llx_cronjob", "llx_blockedlog", "llx_user_rights", "llx_paiement_facture"):
        assert int(_q(a, "SELECT count(*) FROM %s;" % t)) > 0, t
    avg = float(_q(a, "SELECT avg(pg_column_size(s.*)) FROM llx_societe s;"))
    assert 600 <= avg <= 1000
    refs = _q(a, "SELECT ref FROM llx_facture WHERE fk_statut > 0 ORDER BY rowid;").split()
    assert all(len(r) == 11 and r.startswith("FA") and r[6] == "-" for r in refs)
    assert _q(a, "SELECT count(*) FROM llx_facture f WHERE total_ht <> "
                 "(SELECT sum(total_ht) FROM llx_facturedet d WHERE d.fk_facture = f.rowid);") == "0"
    # sequences continue after the loaded ids
    assert int(_q(a, "SELECT nextval('llx_facture_rowid_seq');")) == SCALE + 1


def _md5_copy(role, table, order):
    out = pgfixture.psql(role, "COPY (SELECT * FROM %s ORDER BY %s) TO STDOUT;" % (table, order))
    return hashlib.md5(out.encode("utf-8")).hexdigest(), len(out)


def test_same_seed_same_data(gen_dbs):
    a, b = gen_dbs
    for t, order in (("llx_facture", "rowid"), ("llx_facturedet", "rowid"), ("llx_societe", "rowid"),
                     ("llx_ecm_files", "rowid"), ("llx_accounting_bookkeeping", "rowid"),
                     ("llx_c_departements", "rowid"), ("llx_const", "rowid")):
        ha, na = _md5_copy(a, t, order)
        hb, nb = _md5_copy(b, t, order)
        assert na > 0 and ha == hb, t


def test_ecm_files_match_docs_tree(gen_dbs, docs_trees):
    a, _ = gen_dbs
    root = docs_trees[0]
    docs = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if _is_document(rel):
                docs.add(rel)
    rows = pgfixture.psql(a, "COPY (SELECT filepath || '/' || filename FROM llx_ecm_files) TO STDOUT;")
    ecm = set(rows.splitlines())
    assert int(_q(a, "SELECT count(*) FROM llx_ecm_files;")) == len(docs)
    assert ecm == docs
    assert all(gen.ecm_indexed(d) for d in docs)
    # every invoice has its PDF in the tree, under its ref
    for ref in _q(a, "SELECT ref FROM llx_facture ORDER BY rowid;").split():
        assert os.path.isfile(os.path.join(root, "facture", ref, ref + ".pdf")), ref


def test_drop_first_regenerates_identically(gen_dbs):
    a, b = gen_dbs
    gen.create_db(pgfixture.libpq_env(a), SCALE, SEED, drop_first=True)
    assert _md5_copy(a, "llx_facture", "rowid") == _md5_copy(b, "llx_facture", "rowid")
    assert int(_q(a, "SELECT count(*) FROM pg_largeobject_metadata;")) == 1
    with pytest.raises(RuntimeError, match="already exists"):
        gen.create_db(pgfixture.libpq_env(a), SCALE, SEED)


# ------------------------------------------------------------------ documents tree

def test_docs_tree_deterministic(docs_trees):
    ta, tb = _tree(docs_trees[0]), _tree(docs_trees[1])
    assert len(ta) > 300
    assert ta == tb
    other = _tree_of_seed(SEED + 1)
    assert [e[4] for e in other if e[1] == "f"] != [e[4] for e in ta if e[1] == "f"]


def _tree_of_seed(seed):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        gen.create_docs(d, 20, seed)
        return _tree(d)


def test_docs_tree_contents(docs_trees):
    root = docs_trees[0]
    entries = {e[0]: e for e in _tree(root)}
    files = [e for e in entries.values() if e[1] == "f"]
    lock = entries["install.lock"]
    assert lock[2] == 0o444
    with open(os.path.join(root, "install.lock"), "rb") as f:
        assert f.read().count(b"\n") == 1
    assert "dolibarr.log" in entries
    pdfs = [e[0] for e in files if e[0].endswith(".pdf")]
    for rel in pdfs[:50] + pdfs[-50:]:
        p = os.path.join(root, rel)
        size = os.path.getsize(p)
        assert 20 * 1024 <= size <= 200 * 1024, rel
        with open(p, "rb") as f:
            data = f.read()
        assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    names = list(entries)
    assert any(n.startswith("facture/(PROV") and n.endswith(").pdf") for n in names)
    assert any(n.startswith("facture/FA") and n.endswith(".pdf_preview.png") for n in names)
    assert any(n.startswith("facture/temp/") for n in names)
    assert any(n.startswith("propale/PR") for n in names) and any(n.startswith("commande/CO") for n in names)
    si = [n for n in names if n.startswith("fournisseur/facture/") and e_is_file(entries, n)]
    assert si and all(len(n.split("/")) == 6 and n.split("/")[2].isdigit() and n.split("/")[3].isdigit()
                      and n.split("/")[4].startswith("SI") for n in si)
    assert any(n.startswith("produit/") and "/thumbs/" in n for n in names)
    assert any(n.startswith("mycompany/logos/thumbs/") for n in names)
    assert any(n.startswith("doctemplates/invoices/") and n.endswith(".odt") for n in names)
    assert any(n.startswith("users/") for n in names) and any(n.startswith("admin/backup/") for n in names)
    assert any(n.startswith("ecm/") for n in names) and any(n.startswith("societe/") for n in names)
    assert any(" " in os.path.basename(n) for n in names)
    assert any(not n.isascii() for n in names)
    empty = [n for n, e in entries.items() if e[1] == "d" and not os.listdir(os.path.join(root, n))]
    assert empty
    # mostly incompressible, a few compressible PDFs
    import zlib
    ratios = []
    for rel in pdfs[:60]:
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        ratios.append(len(zlib.compress(data, 1)) / len(data))
    assert sum(r > 0.95 for r in ratios) >= 0.7 * len(ratios)
    assert any(r < 0.5 for r in ratios)


def e_is_file(entries, n):
    return entries[n][1] == "f"


def test_docs_refuses_non_empty_dir(tmp_path):
    (tmp_path / "x").write_text("x")
    with pytest.raises(ValueError):
        gen.create_docs(str(tmp_path), 10, 1)
    gen.create_docs(str(tmp_path), 10, 1, force=True)
    assert not (tmp_path / "x").exists() and (tmp_path / "install.lock").exists()
