#pragma once
// Shared by the job tests: a generated Dolibarr-like instance (database + documents) and a
// job configured over it.
#include "support/pgdump_testing.hpp"

#include <dolibak/job/job.hpp>

#include <filesystem>

namespace jobt {

/// A fresh generated database and documents tree.
struct Instance {
    std::string db = pgt::create_db("prod");
    dolibak::test::TempDir dir{"dolibak-job"};
    std::filesystem::path docs = dir.path() / "documents";

    explicit Instance(int scale = 40, int seed = 7) {
        dolibak::process::ProcessOptions o;
        o.argv = {"/usr/bin/python3",
                  (dolibak::test::source_dir() / "tools/dolibarr_gen.py").string(),
                  "both",
                  "--docs",
                  docs.string(),
                  "--scale",
                  std::to_string(scale),
                  "--seed",
                  std::to_string(seed)};
        o.env = pgt::conn("prod", db).env();
        o.env.emplace_back("PATH", pgt::pg_bin() + ":" + std::string(std::getenv("PATH")));
        auto r = dolibak::process::run(std::move(o));
        if (!r.status.success()) throw dolibak::Error("dolibarr_gen.py failed: " + r.err);
    }
    dolibak::pgdump::ConnectionParams conn() const { return pgt::conn("prod", db); }
    void sql(const std::string& s) const { pgt::psql(conn(), s); }

    /// A configuration backing up both halves into `store_url`.
    dolibak::job::Config config(const std::string& store_url) const {
        dolibak::job::Config c;
        c.store_url = store_url;
        c.store.create_directory = true;
        dolibak::job::DatabaseSettings d;
        d.conn = conn();
        d.tools_dir = pgt::pg_bin();
        c.db = d;
        dolibak::job::DocumentsSettings s;
        s.root = docs;
        c.docs = s;
        return c;
    }
};

inline std::string file_url(const std::filesystem::path& p) {
    return "file://" + p.string();
}

inline const dolibak::job::HalfReport& half(const dolibak::job::BackupReport& r,
                                            const std::string& name) {
    for (const auto& h : r.halves)
        if (h.half == name) return h;
    throw dolibak::Error("no half " + name + " in the report");
}

}  // namespace jobt
