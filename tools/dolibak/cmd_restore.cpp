// dolibak restore db|docs [ts|latest]: restore a backup into a database or a directory, with
// confirmation, an optional safety dump, and proof (row counts, required documents).
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

struct RestoreDbFlags {
    std::string which = "latest";
    std::string to;
    bool yes = false;
    std::string safety_dump;
    bool clean = false;
    bool overwrite_source = false;
    int jobs = 1;
    std::vector<std::string> exclude;
    std::optional<int> min_tables;
};

struct RestoreDocsFlags {
    std::string which = "latest";
    std::string to;
    bool yes = false;
    std::string subtree;
    bool in_place = false;
};

int restore_db(job::Job& j, Output& out, const RestoreDbFlags& f, bool json) {
    job::RestoreDbOptions o;
    o.which = f.which;
    // A name or a conninfo keeps the configured connection but for what it names.
    const auto& db = j.config().db;
    o.restore.target = parse_target(f.to, "--to", db ? &db->conn : nullptr);
    o.restore.confirm_non_empty = f.yes;
    if (!f.safety_dump.empty()) o.restore.safety_dump = f.safety_dump;
    o.restore.clean = f.clean;
    o.restore.jobs = f.jobs;
    o.restore.proof.min_tables = f.min_tables;
    o.exclude = f.exclude;
    o.overwrite_source = f.overwrite_source;
    out.log("info", "db", "restoring " + f.which + " into " + o.restore.target.describe());
    const auto r = j.restore_db(o);
    out.print(json ? job::to_json(r) : text::restore_db(r));
    return exit_ok;
}

int restore_docs(job::Job& j, Output& out, const RestoreDocsFlags& f, bool json) {
    if (f.to.empty()) throw ConfigError("--to DIR is required");
    job::RestoreDocsOptions o;
    o.which = f.which;
    o.target = f.to;
    o.confirm_non_empty = f.yes;
    o.extract.subtree = f.subtree;
    o.extract.in_place = f.in_place;
    const auto r = j.restore_docs(o);
    out.print(json ? job::to_json(r) : text::restore_docs(r));
    return r.missing_required.empty() ? exit_ok : exit_stale_or_failed_check;
}

const Registrar registrar{Command{
    "restore", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand("restore", "Restore a backup (db or docs)");
        sub->require_subcommand(1);

        auto* db = sub->add_subcommand(
            "db", "Restore the database half into a database, then prove it (row counts)");
        auto fd = std::make_shared<RestoreDbFlags>();
        db->add_option(
            "which", fd->which,
            "latest (default) or a run's time (20261123T020000Z or 2026-11-23T02:00:00Z)");
        db->add_option("--to", fd->to,
                       "Target: a conninfo ('host=... dbname=...'), a database name, or a "
                       "settings file; password from DOLIBAK_TARGET_PASSWORD or PGPASSWORD")
            ->required();
        db->add_flag("--yes", fd->yes, "Restore into a database that already holds tables");
        db->add_option("--safety-dump", fd->safety_dump,
                       "First dump the target into this file (a safety copy)")
            ->type_name("FILE");
        db->add_flag("--clean", fd->clean, "Drop the objects before recreating them");
        db->add_flag("--overwrite-source", fd->overwrite_source,
                     "The target is the database dolibak backs up: roll it back to the backup, "
                     "losing every later change (a safety dump of it is taken first)");
        db->add_option("--jobs", fd->jobs, "Parallel pg_restore jobs (spools the archive)")
            ->check(CLI::Range(1, 64));
        db->add_option("--exclude", fd->exclude,
                       "TOC entries to leave out (e.g. 'ACL', 'FUNCTION public f'); repeatable");
        db->add_option("--min-tables", fd->min_tables,
                       "Proof: at least this many application tables (default: the profile's)");
        auto odb = add_job_options(db);
        db->callback([set_action, fd, odb] {
            set_action([fd, odb] {
                return run_job(*odb, [fd, odb](job::Job& j, Output& out) {
                    return restore_db(j, out, *fd, odb->json);
                });
            });
        });

        auto* docs = sub->add_subcommand("docs", "Restore the documents half into a directory");
        auto fc = std::make_shared<RestoreDocsFlags>();
        docs->add_option(
            "which", fc->which,
            "latest (default) or a run's time (20261123T020000Z or 2026-11-23T02:00:00Z)");
        docs->add_option("--to", fc->to, "Target directory")->required()->type_name("DIR");
        docs->add_flag("--yes", fc->yes, "Replace a non-empty target directory");
        docs->add_option("--subtree", fc->subtree,
                         "Only this folder of the archive (e.g. mycompany/), as the target's root");
        docs->add_flag("--in-place", fc->in_place,
                       "Extract straight into the target (no staging copy; for huge trees)");
        auto odc = add_job_options(docs);
        docs->callback([set_action, fc, odc] {
            set_action([fc, odc] {
                return run_job(*odc, [fc, odc](job::Job& j, Output& out) {
                    return restore_docs(j, out, *fc, odc->json);
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
