#pragma once
// Shared by the pgdump tests: databases made from the PostgreSQL fixture and the
// Dolibarr-like generator, and small helpers around psql/pg_dump/pg_restore.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/process/process.hpp>

#include <doctest/doctest.h>

#include <algorithm>
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

/// An archive as pg_dump writes it to a file opened for appending (`pg_dump -Fc >> file`;
/// from pg_dump 16 on, `pg_dump -Fc > file` too), made from one pg_dump wrote to a file
/// (`--file`: offsets set, TOC rewritten in place): pg_dump writes the header and the TOC
/// with its data offsets not set, then the data blocks, then seeks back to rewrite the TOC with
/// the offsets; in append mode that second TOC lands after the data. So: the TOC with the
/// offsets of data entries "not set" (flag 1, value 0), the data, then the TOC as it was
/// (entry count and entries: checked against a real `pg_dump -Fc >> file` in
/// tests/python/test_cli_restore.py).
inline std::string with_appended_toc_copy(const std::string& file_archive) {
    dolibak::io::MemorySource src(file_archive);
    const auto [r, s] = dolibak::pgdump::verify_archive(src);
    REQUIRE_MESSAGE(r.ok(), r.message);
    REQUIRE(s.offsets_set);
    REQUIRE(!s.entries.empty());
    // The TOC pg_dump writes (WriteToc) starts with its entry count, the header's last field.
    const std::size_t toc_start =
        s.entries.front().toc_offset - (1 + static_cast<std::size_t>(s.header.int_size));
    std::size_t toc_end = file_archive.size();
    for (const auto& e : s.entries)
        if (e.has_data()) toc_end = std::min<std::size_t>(toc_end, e.block_offset);
    const std::size_t offset_field = 1 + static_cast<std::size_t>(s.header.offset_size);
    std::string out = file_archive.substr(0, toc_end);
    for (std::size_t i = 0; i < s.entries.size(); ++i) {
        if (s.entries[i].offset_state != dolibak::pgdump::OffsetState::set) continue;
        const std::size_t end = i + 1 < s.entries.size() ? s.entries[i + 1].toc_offset : toc_end;
        out.replace(end - offset_field, offset_field, std::string(offset_field, '\0'));
        out[end - offset_field] = 1;  // K_OFFSET_POS_NOT_SET
    }
    out += file_archive.substr(toc_end);
    out += file_archive.substr(toc_start, toc_end - toc_start);
    return out;
}

/// An archive of format 1.14 (pg_dump 12 to 15) turned into format 1.15 (pg_dump 16): the
/// header's compression level becomes a compression algorithm; the rest is the same.
inline std::string as_format_1_15(const std::string& archive) {
    REQUIRE(archive.size() > 12);
    REQUIRE(archive[6] == 14);
    const auto int_size = static_cast<std::size_t>(archive[8]);
    const std::string level = archive.substr(11, 1 + int_size);
    const bool none = level == std::string(1 + int_size, '\0');
    std::string out = archive.substr(0, 11);
    out[6] = 15;
    out += static_cast<char>(none ? 0 : 1);  // none or gzip
    out += archive.substr(11 + 1 + int_size);
    return out;
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
