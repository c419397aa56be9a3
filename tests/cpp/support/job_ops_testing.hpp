#pragma once
// Shared by the tests of verify/restore/check/refresh: stores with runs made here with the
// layers directly (in the layout of job.hpp, with or without a manifest, as the old scripts
// left them), a small database, a generated documents tree, and comparisons of databases and
// trees. Job::backup makes the runs where the test is end to end.
#include "support/job_testing.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/tarball/excludes.hpp>
#include <dolibak/tarball/writer.hpp>

#include <map>
#include <random>

namespace jt {

namespace fs = std::filesystem;

/// The generated documents tree of this test program (made once, scale 60).
inline const fs::path& generated_docs() {
    static const dolibak::test::TempDir dir("dolibak-job-docs");
    static const fs::path root = [] {
        const fs::path out = dir / "documents";
        dolibak::process::ProcessOptions o;
        o.argv = {"/usr/bin/python3",
                  (dolibak::test::source_dir() / "tools/dolibarr_gen.py").string(),
                  "docs",
                  "--scale",
                  "60",
                  "--seed",
                  "2",
                  "--out",
                  out.string()};
        auto r = dolibak::process::run(std::move(o));
        if (!r.status.success()) throw dolibak::Error("dolibarr_gen.py docs failed: " + r.err);
        return out;
    }();
    return root;
}

/// A small database of this test program (made once): three llx_ tables with rows, for the
/// tests where the size of the data does not matter (restores take a fraction of a second).
inline const std::string& tiny_db() {
    static const std::string name = [] {
        const std::string db = pgt::create_db("prod");
        pgt::psql(pgt::conn("prod", db),
                  "CREATE TABLE llx_societe (rowid serial PRIMARY KEY, nom text);"
                  "INSERT INTO llx_societe (nom) SELECT 'soc ' || i FROM generate_series(1, 50) i;"
                  "CREATE TABLE llx_facture (rowid serial PRIMARY KEY, fk_soc int, total numeric);"
                  "INSERT INTO llx_facture (fk_soc, total) SELECT i % 50 + 1, i * 1.5 FROM "
                  "generate_series(1, 300) i;"
                  "CREATE TABLE llx_const (name text, value text);");
        return db;
    }();
    return name;
}

/// Proof options for tiny_db().
inline dolibak::pgdump::ProofOptions tiny_proof() {
    dolibak::pgdump::ProofOptions p;
    p.min_tables = 3;
    return p;
}

inline dolibak::store::StoreOptions s3_options() {
    const auto& info = dolibak::test::s3();
    dolibak::store::StoreOptions o;
    o.use_environment = false;
    o.s3.endpoint = info.at("endpoint").get<std::string>();
    o.s3.region = info.at("region").get<std::string>();
    o.s3.part_size = 5 * 1024 * 1024;
    o.s3.retry.base_delay = std::chrono::milliseconds(20);
    dolibak::s3::Credentials c;
    c.access_key_id = info.at("access_key").get<std::string>();
    c.secret_access_key = dolibak::Secret(info.at("secret_key").get<std::string>());
    o.credentials = c;
    return o;
}

inline std::string s3_url() {
    static std::mt19937_64 rng{std::random_device{}()};
    return "s3://" + dolibak::test::s3().at("bucket").get<std::string>() + "/job-" +
           std::to_string(rng() % 1000000000);
}

/// A job config over a store (file:// URL of a directory made on the fly, or given).
inline dolibak::job::Config config(const std::string& url,
                                   const dolibak::store::StoreOptions& so = {}) {
    dolibak::job::Config c;
    c.store_url = url;
    c.store = so;
    c.store.create_directory = true;
    return c;
}

struct RunSpec {
    dolibak::TimePoint time;
    std::string db;           ///< database to dump (prod role); empty: no db half
    fs::path docs;            ///< tree to archive; empty: no docs half
    bool zstd_dump = false;   ///< <ts>.dump.zst
    bool zstd_docs = false;   ///< <ts>.tar.zst
    bool manifest = true;     ///< false: as the old scripts left it
    bool old_prefix = false;  ///< names start with "documents/" (old scripts)
};

/// Stores a run; returns its manifest (also when not stored).
inline dolibak::catalog::Manifest make_run(dolibak::store::Store& store, const RunSpec& spec) {
    using namespace dolibak;
    catalog::Manifest m;
    m.time = spec.time;
    m.started_at = spec.time;
    m.finished_at = spec.time;
    m.tool_version = "test";
    m.profile = "dolibarr";
    if (!spec.db.empty()) {
        const auto kind =
            spec.zstd_dump ? catalog::ObjectKind::db_dump_zst : catalog::ObjectKind::db_dump;
        const std::string key = catalog::make_store_key("", kind, spec.time);
        io::Sha256 sha;
        io::ByteCounter n;
        auto up = store.put(key);
        io::ObservedSink obs(*up, {&sha, &n});
        pgdump::DumpOptions d;
        d.conn = pgt::conn("prod", spec.db);
        d.mode = spec.zstd_dump ? pgdump::DumpMode::zstd : pgdump::DumpMode::pg_dump_compressed;
        pgdump::dump(d, obs);
        catalog::ManifestHalf h;
        h.key = key;
        h.bytes = n.bytes();
        h.sha256 = sha.hex();
        h.format = "pg_dump-custom";
        m.halves["db"] = h;
    }
    if (!spec.docs.empty()) {
        const auto kind =
            spec.zstd_docs ? catalog::ObjectKind::docs_tar_zst : catalog::ObjectKind::docs_tar_gz;
        const std::string key = catalog::make_store_key("", kind, spec.time);
        io::Sha256 sha;
        io::ByteCounter n;
        auto up = store.put(key);
        io::ObservedSink obs(*up, {&sha, &n});
        tarball::WriteOptions wo;
        wo.compression = spec.zstd_docs ? tarball::Compression::zstd : tarball::Compression::gzip;
        wo.excludes = job::builtin_profile("dolibarr").document_excludes;
        if (spec.old_prefix) wo.prefix = "documents/";
        tarball::write_tar(spec.docs, obs, wo);
        obs.finish();
        catalog::ManifestHalf h;
        h.key = key;
        h.bytes = n.bytes();
        h.sha256 = sha.hex();
        h.format = spec.zstd_docs ? "tar.zst" : "tar.gz";
        m.halves["docs"] = h;
    }
    if (spec.manifest)
        store.put_bytes(catalog::make_store_key("", catalog::ObjectKind::manifest, spec.time),
                        m.to_json());
    return m;
}

/// Every table's row count in a database (schema.name -> rows).
inline std::map<std::string, std::string> row_counts(const dolibak::pgdump::ConnectionParams& c) {
    // One query (names may hold newlines, which psql -At prints raw): name=count pairs
    // joined by the unit separator.
    const std::string sql =
        "SELECT string_agg(q, E'\\x1f') FROM (SELECT format('%s=%s', t, "
        "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %s', t), "
        "false, true, '')))[1]::text) AS q FROM (SELECT quote_ident(n.nspname) || '.' || "
        "quote_ident(c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN "
        "('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1) "
        "s) x";
    std::string all = pgt::psql(c, sql);
    if (!all.empty() && all.back() == '\n') all.pop_back();
    std::map<std::string, std::string> out;
    std::size_t start = 0;
    while (start < all.size()) {
        auto end = all.find('\x1f', start);
        if (end == std::string::npos) end = all.size();
        const std::string item = all.substr(start, end - start);
        const auto eq = item.rfind('=');
        out[item.substr(0, eq)] = item.substr(eq + 1);
        start = end + 1;
    }
    return out;
}

/// Every regular file of a tree that a backup keeps (relative path -> SHA-256), and every
/// directory and symlink (-> "dir" / "link:<target>").
inline std::map<std::string, std::string> tree(const fs::path& root, bool apply_excludes = true) {
    std::map<std::string, std::string> out;
    dolibak::tarball::ExcludeMatcher ex(
        dolibak::job::builtin_profile("dolibarr").document_excludes);
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const auto rel = fs::relative(it->path(), root).generic_string();
        const auto st = it->symlink_status();
        if (apply_excludes && ex.excluded(rel, fs::is_directory(st))) {
            if (fs::is_directory(st)) it.disable_recursion_pending();
            continue;
        }
        if (fs::is_symlink(st))
            out[rel] = "link:" + fs::read_symlink(it->path()).string();
        else if (fs::is_directory(st))
            out[rel] = "dir";
        else
            out[rel] = dolibak::io::sha256_file_hex(it->path());
    }
    return out;
}

}  // namespace jt
