// dolibak backup: back up both halves (database and documents) into the store, skipping a
// half whose fingerprint is unchanged; prune afterwards when asked (--prune, or the
// prune_after_backup setting).
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

#include <fmt/core.h>

namespace dolibak::cli {
namespace {

struct BackupFlags {
    bool db_only = false;
    bool docs_only = false;
    job::BackupOptions options;
    std::string metrics;
};

int run_backup(job::Job& job, Output& out, const BackupFlags& f, bool json) {
    job::BackupOptions o = f.options;
    if (!f.metrics.empty()) o.metrics_file = f.metrics;
    o.db = !f.docs_only && job.config().db.has_value();
    o.docs = !f.db_only && job.config().docs.has_value();
    if (f.db_only && !job.config().db)
        throw ConfigError("--db-only but no database is configured (db_name, PGDATABASE)");
    if (f.docs_only && !job.config().docs)
        throw ConfigError("--docs-only but no documents directory is configured (docs_dir)");
    if (!o.db && !o.docs)
        throw ConfigError(
            "nothing to back up: configure the database (db_name or PGDATABASE) and/or the "
            "documents directory (docs_dir)");
    const job::BackupReport r = job.backup(o);
    if (json)
        out.print(job::to_json(r));
    else
        out.print(text::backup(r));
    return r.ok() && r.prune_error.empty() ? exit_ok : exit_error;
}

const Registrar registrar{Command{
    "backup", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "backup", "Back up the database and the documents (unchanged halves are skipped)");
        auto f = std::make_shared<BackupFlags>();
        auto* db_only = sub->add_flag("--db-only", f->db_only, "Only the database half");
        sub->add_flag("--docs-only", f->docs_only, "Only the documents half")->excludes(db_only);
        sub->add_flag("--force", f->options.force, "Upload even when unchanged");
        sub->add_flag("--dry-run", f->options.dry_run,
                      "Compute the fingerprints and say what would be uploaded; store nothing");
        auto* prune = sub->add_flag_callback(
            "--prune", [f] { f->options.prune = true; },
            "Prune after a successful run (default: the prune_after_backup setting)");
        sub->add_flag_callback(
               "--no-prune", [f] { f->options.prune = false; },
               "Do not prune after the run, whatever prune_after_backup says")
            ->excludes(prune);
        sub->add_option("--metrics", f->metrics,
                        "Write Prometheus textfile metrics of the run and its prune to this "
                        "file (atomically)")
            ->type_name("FILE");
        auto o = add_job_options(sub);
        sub->callback([set_action, f, o] {
            set_action([f, o] {
                return run_job(*o, [f, o](job::Job& j, Output& out) {
                    return run_backup(j, out, *f, o->json);
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
