#pragma once
// Shared by the pgdump tests: databases made from the PostgreSQL fixture and the
// Dolibarr-like generator, and small helpers around psql/pg_dump/pg_restore.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/process/process.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <string>

namespace pgt {

inline std::string pg_bin() {
    return dolibak::test::pg().at("bin_dir").get<std::string>();
}

inline dolibak::pgdump::ConnectionParams conn(const std::string& role,
                                              const std::string& dbname = {}) {
    const auto& info = dolibak::test::pg();
    const auto& r = info.at(role);
    dolibak::pgdump::ConnectionParams c;
    c.host = info.at("host").get<std::string>();
    c.port = info.at("port").get<int>();
    c.user = r.at("user").get<std::string>();
    c.dbname = dbname.empty() ? r.at("dbname").get<std::string>() : dbname;
    c.password = dolibak::Secret(r.at("password").get<std::string>());
    return c;
}

/// Runs SQL through psql as `c` (ON_ERROR_STOP), returns stdout.
inline std::string psql(const dolibak::pgdump::ConnectionParams& c, const std::string& sql) {
    dolibak::process::ProcessOptions o;
    o.argv = {pg_bin() + "/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"};
    o.env = c.env();
    o.in = dolibak::process::Stdio::pipe;
    auto r = dolibak::process::run(std::move(o), sql);
    if (!r.status.success()) throw dolibak::Error("psql failed: " + r.err);
    return r.out;
}

/// A new empty database owned by `owner_role`'s user; returns its name.
inline std::string create_db(const std::string& owner_role = "prod") {
    static std::atomic<int> n{0};
    const std::string name = "t_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    const auto owner = dolibak::test::pg().at(owner_role).at("user").get<std::string>();
    psql(conn("superuser"), "CREATE DATABASE " + name + " OWNER " + owner + ";");
    return name;
}

/// Edge cases on top of the generated data: odd names, empty-string rows, a function to
/// filter out, a comment, a grant.
inline const char* const edge_sql = R"SQL(
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."tab
name" (a text);
INSERT INTO "Odd Schema"."tab
name" VALUES (''), (''), (E'x\ny'), (E'back\\slash'), (E'\\.');
CREATE TABLE zero_cols ();
INSERT INTO zero_cols DEFAULT VALUES;
INSERT INTO zero_cols DEFAULT VALUES;
CREATE FUNCTION user_lookup(i_username text, OUT uname text, OUT phash text) RETURNS record
  LANGUAGE sql SECURITY DEFINER AS $$ SELECT i_username, 'x' $$;
COMMENT ON FUNCTION user_lookup(text) IS 'pooler auth function';
REVOKE ALL ON FUNCTION user_lookup(text) FROM public;
COMMENT ON TABLE llx_societe IS 'third parties';
)SQL";

/// The generated Dolibarr-like database of this test program (made once).
inline const std::string& generated_db() {
    static const std::string name = [] {
        const std::string db = create_db("prod");
        dolibak::process::ProcessOptions o;
        o.argv = {"/usr/bin/python3",
                  (dolibak::test::source_dir() / "tools/dolibarr_gen.py").string(),
                  "db",
                  "--scale",
                  "200",
                  "--seed",
                  "1"};
        o.env = conn("prod", db).env();
        o.env.emplace_back(
            "PATH", pg_bin() + ":" + std::string(std::getenv("PATH") ? std::getenv("PATH") : ""));
        auto r = dolibak::process::run(std::move(o));
        if (!r.status.success()) throw dolibak::Error("dolibarr_gen.py failed: " + r.err);
        psql(conn("prod", db), edge_sql);
        return db;
    }();
    return name;
}

/// pg_dump with the fixture's tools into a file (or via stdout when to_pipe).
inline void pg_dump_to(const std::filesystem::path& out, const std::string& db,
                       std::vector<std::string> extra, bool to_pipe) {
    dolibak::process::ProcessOptions o;
    o.argv = {pg_bin() + "/pg_dump", "-Fc"};
    for (auto& a : extra) o.argv.push_back(a);
    if (!to_pipe) o.argv.push_back("--file=" + out.string());
    o.env = conn("prod", db).env();
    auto r = dolibak::process::run(std::move(o), std::nullopt, 512 * 1024 * 1024);
    if (!r.status.success()) throw dolibak::Error("pg_dump failed: " + r.err);
    if (to_pipe) dolibak::test::write_file(out, r.out);
}

/// pg_restore -l of a file, without the ';' comment lines.
inline std::string pg_restore_list(const std::filesystem::path& f) {
    dolibak::process::ProcessOptions o;
    o.argv = {pg_bin() + "/pg_restore", "-l", f.string()};
    auto r = dolibak::process::run(std::move(o));
    if (!r.status.success()) throw dolibak::Error("pg_restore -l failed: " + r.err);
    std::string out, line;
    std::istringstream in(r.out);
    while (std::getline(in, line))
        if (!line.empty() && line[0] != ';') out += line + "\n";
    return out;
}

inline std::string without_comments(const std::string& s) {
    std::string out, line;
    std::istringstream in(s);
    while (std::getline(in, line))
        if (!line.empty() && line[0] != ';') out += line + "\n";
    return out;
}

}  // namespace pgt
