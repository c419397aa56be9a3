// The documents half through the job, with no database: what the excludes leave out (and that
// it is shown), reproducible archives, an empty or unmounted directory, skip_unreadable.
#include "support/testsupport.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/tarball/writer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

using namespace dolibak;
namespace fs = std::filesystem;
using Outcome = job::HalfReport::Outcome;

namespace {

// Every run gets its own second: <ts> has a one-second resolution.
TimePoint next_second() {
    static TimePoint t = parse_timestamp("20260301T020000Z");
    t += std::chrono::seconds(1);
    return t;
}

job::Config docs_config(const fs::path& store, const fs::path& docs) {
    job::Config c;
    c.store_url = "file://" + store.string();
    c.store.create_directory = true;
    job::DocumentsSettings d;
    d.root = docs;
    c.docs = d;
    c.now = next_second;
    return c;
}

const job::HalfReport& docs_half(const job::BackupReport& r) {
    for (const auto& h : r.halves)
        if (h.half == "docs") return h;
    throw Error("no docs half in the report");
}

// A small Dolibarr tree: attachments whose names look like logs and leftovers, and what
// Dolibarr regenerates (a temp/ cache, a PDF preview, its own log at the root).
void make_tree(const fs::path& root) {
    test::write_file(root / "install.lock", "lock\n");
    test::write_file(root / "facture/FA1/FA1.pdf", std::string(5000, 'p'));
    test::write_file(root / "facture/FA1/FA1.pdf_preview.png", std::string(50, 'i'));
    test::write_file(root / "facture/temp/stats.png", std::string(100, 's'));
    test::write_file(root / "facture/temp/massgeneration/merged.pdf", std::string(20, 'm'));
    test::write_file(root / "dolibarr.log", std::string(30, 'l'));
    test::write_file(root / "ticket/TS1/server.log", "the customer's server log\n");
    test::write_file(root / "ticket/TS1/notes.old", "old notes\n");
    test::write_file(root / "societe/1/x.back", "a backup the customer sent\n");
    test::write_file(root / "admin/backup/pg_dump_dolibarr.sql.gz", "dump");
    test::write_file(root / "admin/documents/export.zip", "zip");
}

// Runs `fn` in a child process without the privileges that make every file readable (as
// nobody when run as root); returns its exit code.
int unprivileged(const std::function<int()>& fn) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::geteuid() == 0 &&
            (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
            ::_exit(90);
        int rc = 91;
        try {
            rc = fn();
        } catch (...) {
            rc = 92;
        }
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

}  // namespace

TEST_CASE("attachments named *.log, *.old, *.back are kept; every exclusion is counted and shown") {
    // Both documents modes count what they leave out (packs: a new store's default).
    for (const auto mode : {job::DocsMode::automatic, job::DocsMode::tar}) {
        CAPTURE(mode == job::DocsMode::tar);
        test::TempDir tmp;
        make_tree(tmp / "docs");
        auto config = docs_config(tmp / "store", tmp / "docs");
        config.docs->mode = mode;
        job::Job j(config);
        const auto rep = j.backup();
        REQUIRE(rep.ok());
        const auto& h = docs_half(rep);
        REQUIRE(h.outcome == Outcome::uploaded);

        // Each pattern of the profile with what it left out, in the run report...
        const std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> expected = {
            {"*/temp/*", 2, 120},
            {"*.pdf_preview*.png", 1, 50},
            {"/dolibarr.log", 1, 30},
            {"/dolibarr_*.log", 0, 0}};
        auto as_tuples = [](const std::vector<tarball::Exclusion>& xs) {
            std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> out;
            for (const auto& x : xs) out.emplace_back(x.pattern, x.files, x.bytes);
            return out;
        };
        CHECK(as_tuples(h.exclusions) == expected);
        const auto report_json = nlohmann::json::parse(job::to_json(rep));
        CHECK(report_json["halves"][0]["exclusions"][0]["pattern"] == "*/temp/*");
        CHECK(report_json["halves"][0]["exclusions"][0]["files"] == 2);

        // ... in the manifest (list reads it), and in verify's report.
        const auto listing = j.list();
        REQUIRE(listing.runs.size() == 1);
        CHECK(as_tuples(job::recorded_exclusions(
                  listing.runs[0].manifest.halves.at("docs").archive_summary_json)) == expected);
        const auto verified = j.verify();
        REQUIRE(verified.ok());
        CHECK(as_tuples(verified.objects.at(0).exclusions) == expected);

        // The attachments round-trip; what Dolibarr regenerates does not.
        job::RestoreDocsOptions o;
        o.target = tmp / "out";
        j.restore_docs(o);
        CHECK(test::read_file(tmp / "out/ticket/TS1/server.log") == "the customer's server log\n");
        CHECK(test::read_file(tmp / "out/ticket/TS1/notes.old") == "old notes\n");
        CHECK(test::read_file(tmp / "out/societe/1/x.back") == "a backup the customer sent\n");
        CHECK(test::read_file(tmp / "out/admin/backup/pg_dump_dolibarr.sql.gz") == "dump");
        CHECK(test::read_file(tmp / "out/admin/documents/export.zip") == "zip");
        CHECK(fs::exists(tmp / "out/facture/FA1/FA1.pdf"));
        CHECK(!fs::exists(tmp / "out/facture/temp"));
        CHECK(!fs::exists(tmp / "out/facture/FA1/FA1.pdf_preview.png"));
        CHECK(!fs::exists(tmp / "out/dolibarr.log"));
    }
}

TEST_CASE("two backups of an unchanged tree at different times give the same archive bytes") {
    // zstd (the default) and gzip, whose header's MTIME must not carry the wall clock.
    for (const auto compression : {tarball::Compression::zstd, tarball::Compression::gzip}) {
        CAPTURE(tarball::to_string(compression));
        test::TempDir tmp;
        make_tree(tmp / "docs");
        auto config = docs_config(tmp / "store", tmp / "docs");
        config.docs->mode = job::DocsMode::tar;  // archives (a new store's default is packs)
        if (compression == tarball::Compression::gzip) config.docs->compression = compression;
        REQUIRE(config.docs->compression == compression);
        job::Job j(config);
        job::BackupOptions force;
        force.force = true;
        const auto first = j.backup(force);
        const auto second = j.backup(force);
        REQUIRE(first.ok());
        REQUIRE(second.ok());
        const auto& a = docs_half(first);
        const auto& b = docs_half(second);
        REQUIRE(a.key != b.key);
        CHECK(a.key.ends_with(tarball::file_extension(compression)));
        const std::string bytes_a = j.store().get_bytes(a.key);
        CHECK(bytes_a == j.store().get_bytes(b.key));
        CHECK(a.sha256 == b.sha256);
        REQUIRE(bytes_a.size() > 10);
        if (compression == tarball::Compression::gzip)
            CHECK(bytes_a.substr(4, 4) == std::string(4, '\0'));  // gzip MTIME, bytes 4-7
        else
            CHECK(bytes_a.substr(0, 4) == std::string("\x28\xb5\x2f\xfd"));  // zstd frame magic
    }
}

TEST_CASE("an empty or unmounted documents directory fails the half unless allowed") {
    test::TempDir tmp;
    fs::create_directories(tmp / "empty");
    {
        job::Job j(docs_config(tmp / "store", tmp / "empty"));
        const auto rep = j.backup();
        CHECK(!rep.ok());
        CHECK(docs_half(rep).error.find("empty") != std::string::npos);
        const auto check = j.check();
        for (const auto& item : check.items)
            if (item.name == "documents") CHECK(!item.ok);
    }
    // Files, but not the profile's install.lock: not the documents directory, or not mounted.
    test::write_file(tmp / "nolock/facture/a.pdf", "pdf");
    {
        job::Job j(docs_config(tmp / "store2", tmp / "nolock"));
        const auto rep = j.backup();
        CHECK(!rep.ok());
        CHECK(docs_half(rep).error.find("install.lock") != std::string::npos);
    }
    auto c = docs_config(tmp / "store3", tmp / "empty");
    c.docs->allow_missing_required = true;
    job::Job j(c);
    CHECK(j.backup().ok());
    for (const auto& item : j.check().items)
        if (item.name == "documents") CHECK(item.ok);
}

TEST_CASE("a documents directory that does not exist is a configuration error: no run recorded") {
    test::TempDir tmp;
    const fs::path store = tmp / "store";
    test::write_file(tmp / "file", "not a directory");
    for (const fs::path& docs : {tmp / "nonexistent", tmp / "file"}) {
        CAPTURE(docs);
        job::Job j(docs_config(store, docs));
        try {
            (void)j.backup();
            FAIL("backed up");
        } catch (const ConfigError& e) {
            CHECK(std::string(e.what()).find("docs_dir") != std::string::npos);
            CHECK(std::string(e.what()).find(docs.string()) != std::string::npos);
        }
        job::BackupOptions dry;
        dry.dry_run = true;
        CHECK_THROWS_AS(j.backup(dry), ConfigError);
        // Nothing in the store: no manifest, no marker, no lock left.
        CHECK(j.list().runs.empty());
        std::size_t entries = 0;
        if (fs::exists(store))
            for (const auto& e : fs::recursive_directory_iterator(store))
                entries += e.is_regular_file() ? 1 : 0;
        CHECK(entries == 0);
    }
}

TEST_CASE("skip_unreadable: an unreadable directory is skipped by the fingerprint too") {
    test::TempDir tmp;
    make_tree(tmp / "docs");
    test::write_file(tmp / "docs/private/secret.pdf", "s");
    fs::create_directories(tmp / "store");
    for (const auto& p : {tmp.path(), tmp / "docs", tmp / "store"}) ::chmod(p.c_str(), 0777);
    for (auto it = fs::recursive_directory_iterator(tmp / "docs");
         it != fs::recursive_directory_iterator(); ++it)
        ::chmod(it->path().c_str(), it->is_directory() ? 0755 : 0644);
    ::chmod((tmp / "docs/private").c_str(), 0);

    auto c = docs_config(tmp / "store", tmp / "docs");
    c.docs->skip_unreadable = true;
    const int rc = unprivileged([&] {
        job::Job j(c);
        bool check_ok = false;
        for (const auto& item : j.check().items)
            if (item.name == "documents") check_ok = item.ok;
        if (!check_ok) return 10;
        const auto rep = j.backup();
        return rep.ok() ? 0 : 11;
    });
    CHECK(rc == 0);  // 11: the backup failed where check said all was well
    // Without the option, check and backup agree that it fails.
    c.docs->skip_unreadable = false;
    const int strict = unprivileged([&] {
        job::Job j(c);
        for (const auto& item : j.check().items)
            if (item.name == "documents" && item.ok) return 20;
        return j.backup().ok() ? 21 : 0;
    });
    CHECK(strict == 0);
    ::chmod((tmp / "docs/private").c_str(), 0755);
}

TEST_CASE("restore docs: --in-place refuses a non-empty target; the manifest's size bounds it") {
    test::TempDir tmp;
    make_tree(tmp / "docs");
    job::Job j(docs_config(tmp / "store", tmp / "docs"));
    const auto rep = j.backup();
    REQUIRE(rep.ok());
    test::write_file(tmp / "out/old.pdf", "old");
    job::RestoreDocsOptions o;
    o.target = tmp / "out";
    o.confirm_non_empty = true;
    o.extract.in_place = true;
    CHECK_THROWS_AS(j.restore_docs(o), ConfigError);
    CHECK(test::read_file(tmp / "out/old.pdf") == "old");
    CHECK(!fs::exists(tmp / "out/install.lock"));

    // A manifest recording less content than the archive holds: the extraction stops.
    const auto key = catalog::make_store_key("", catalog::ObjectKind::manifest, rep.time);
    auto m = catalog::Manifest::from_json(j.store().get_bytes(key));
    auto summary = nlohmann::json::parse(m.halves.at("docs").archive_summary_json);
    summary["content_bytes"] = 100;
    m.halves.at("docs").archive_summary_json = summary.dump();
    j.store().put_bytes(key, m.to_json());
    o.extract.in_place = false;
    try {
        j.restore_docs(o);
        FAIL("expected FormatError");
    } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find("content bytes") != std::string::npos);
    }
    CHECK(test::read_file(tmp / "out/old.pdf") == "old");
}

TEST_CASE("skip_unreadable in docs_mode packs: an unreadable file and directory are left out") {
    test::TempDir tmp;
    make_tree(tmp / "docs");
    test::write_file(tmp / "docs/private/secret.pdf", "s");
    test::write_file(tmp / "docs/facture/FA1/locked.pdf", "l");
    fs::create_directories(tmp / "store");
    for (const auto& p : {tmp.path(), tmp / "docs", tmp / "store"}) ::chmod(p.c_str(), 0777);
    for (auto it = fs::recursive_directory_iterator(tmp / "docs");
         it != fs::recursive_directory_iterator(); ++it)
        ::chmod(it->path().c_str(), it->is_directory() ? 0755 : 0644);
    ::chmod((tmp / "docs/private").c_str(), 0);
    ::chmod((tmp / "docs/facture/FA1/locked.pdf").c_str(), 0);

    auto c = docs_config(tmp / "store", tmp / "docs");
    c.docs->mode = job::DocsMode::packs;
    c.docs->skip_unreadable = true;
    const int rc = unprivileged([&] {
        std::string warnings;
        auto cc = c;
        cc.on_event = [&warnings](const job::Event& e) {
            if (e.kind == job::Event::Kind::warning) warnings += e.message + "\n";
        };
        job::Job j(cc);
        if (!j.backup().ok()) return 11;
        if (warnings.find("facture/FA1/locked.pdf: cannot open") == std::string::npos) return 12;
        return 0;
    });
    CHECK(rc == 0);  // 11: the half failed on the unreadable entries; 12: no warning named it
    {
        job::Job j(c);
        job::RestoreDocsOptions ro;
        ro.target = tmp / "restored";
        j.restore_docs(ro);
        CHECK(test::read_file(tmp / "restored/facture/FA1/FA1.pdf") == std::string(5000, 'p'));
        CHECK_FALSE(fs::exists(tmp / "restored/facture/FA1/locked.pdf"));
        CHECK_FALSE(fs::exists(tmp / "restored/private/secret.pdf"));
    }
    // Without the option the half fails, as in the tar mode.
    c.docs->skip_unreadable = false;
    ::chmod((tmp / "docs/private").c_str(), 0755);
    const int strict = unprivileged([&] { return job::Job(c).backup().ok() ? 21 : 0; });
    CHECK(strict == 0);
    ::chmod((tmp / "docs/facture/FA1/locked.pdf").c_str(), 0644);
}
