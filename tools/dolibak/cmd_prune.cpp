// dolibak prune: apply the retention policy; prints the plan with the reasons.
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

struct PruneFlags {
    bool dry_run = false;
    bool force = false;
};

const Registrar registrar{Command{
    "prune", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "prune", "Delete the backups the retention policy drops (prints the plan and why)");
        auto f = std::make_shared<PruneFlags>();
        sub->add_flag("--dry-run", f->dry_run, "Print the plan; delete nothing");
        sub->add_flag("--force", f->force, "Prune even when the newest run failed");
        auto o = add_job_options(sub);
        sub->callback([set_action, o, f] {
            set_action([o, f] {
                return run_job(*o, [o, f](job::Job& j, Output& out) {
                    const auto r = j.prune(f->dry_run, f->force);
                    out.print(o->json ? job::to_json(r) : text::prune(r));
                    return r.failures.empty() ? exit_ok : exit_error;
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
