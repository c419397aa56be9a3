// A backup job from C++, against the installed libdolibak: both halves of a Dolibarr instance
// into a local directory store, then the store's listing.
//
//   backup_job STORE_DIR DOCUMENTS_DIR
//
// The database comes from libpq's usual environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
// PGPASSWORD); without PGDATABASE only the documents are backed up. The store directory must
// exist (a missing directory usually means an unmounted backup disk). Exit status: 0 when
// every half was stored or found unchanged, 1 when a half failed, 2 on bad usage.
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/job/job.hpp>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// The source database from libpq's variables. The password stays in a Secret: dolibak hands
// it to pg_dump through PGPASSWORD only and never prints it.
dolibak::pgdump::ConnectionParams database_from_environment() {
    dolibak::pgdump::ConnectionParams conn;
    conn.host = env_or("PGHOST", "/var/run/postgresql");
    conn.port = std::stoi(env_or("PGPORT", "5432"));
    conn.user = env_or("PGUSER", env_or("USER", "postgres"));
    conn.dbname = env_or("PGDATABASE", "");
    conn.password = dolibak::Secret(env_or("PGPASSWORD", ""));
    conn.sslmode = env_or("PGSSLMODE", "");
    return conn;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: backup_job STORE_DIR DOCUMENTS_DIR\n";
        return 2;
    }
    try {
        namespace job = dolibak::job;
        job::Config config;
        config.store_url = "file://" + std::filesystem::absolute(argv[1]).string();
        config.profile = dolibak::job::builtin_profile("dolibarr");

        auto conn = database_from_environment();
        if (!conn.dbname.empty()) {
            job::DatabaseSettings db;
            db.conn = std::move(conn);
            config.db = std::move(db);
        }
        job::DocumentsSettings docs;
        docs.root = argv[2];
        config.docs = std::move(docs);

        // Warnings and information as they happen; progress events are frequent: skip them.
        config.on_event = [](const job::Event& e) {
            if (e.kind == job::Event::Kind::progress) return;
            std::cerr << (e.kind == job::Event::Kind::warning ? "warning: " : "")
                      << (e.half.empty() ? "" : e.half + ": ") << e.message << "\n";
        };

        job::Job backup_job(std::move(config));
        const job::BackupReport report = backup_job.backup();

        std::cout << "run " << dolibak::format_timestamp(report.time) << " (" << report.seconds
                  << " s)\n";
        for (const auto& h : report.halves) {
            std::cout << "  " << h.half << ": " << job::to_string(h.outcome);
            if (!h.key.empty()) std::cout << " " << h.key << " (" << h.bytes << " bytes)";
            if (!h.reason.empty()) std::cout << " — " << h.reason;
            if (!h.error.empty()) std::cout << " — error: " << h.error;
            std::cout << "\n";
        }
        if (!report.manifest_key.empty()) std::cout << "  manifest " << report.manifest_key << "\n";

        const job::ListReport listing = backup_job.list();
        std::map<std::string, std::pair<std::size_t, std::uint64_t>> per_half;  // count, bytes
        for (const auto& b : listing.backups) {
            auto& [count, bytes] = per_half[b.half];
            ++count;
            bytes += b.size;
        }
        std::cout << "store " << backup_job.store().url() << ": " << listing.runs.size()
                  << " run(s)\n";
        for (const auto& [half, totals] : per_half) {
            std::cout << "  " << half << ": " << totals.first << " backup(s), " << totals.second
                      << " bytes\n";
        }
        if (!listing.backups.empty()) {
            std::cout << "  newest: " << listing.backups.back().key << "\n";
        }
        return report.ok() ? 0 : 1;
    } catch (const dolibak::Error& e) {
        std::cerr << "backup_job: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {  // e.g. a PGPORT that is not a number
        std::cerr << "backup_job: " << e.what() << "\n";
        return 2;
    }
}
