// dolibak check: preflight of a configuration (tools, database, documents, store, clock,
// temporary space); exit 1 when an item fails.
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

const Registrar registrar{Command{
    "check", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "check",
            "Preflight: pg_dump/pg_restore found and version-matched, database reachable, "
            "documents readable, store writable, clock skew, temp space; exit 1 on a failure");
        auto o = add_job_options(sub);
        sub->callback([set_action, o] {
            set_action([o] {
                // Each item is an event (a log line) and a line of the result: on a terminal
                // that shows both, once is enough.
                RunOptions run;
                run.result_repeats_events = true;
                return run_job(
                    *o,
                    [o](job::Job& j, Output& out) {
                        const auto r = j.check();
                        out.print(o->json ? job::to_json(r) : text::check(r));
                        return r.ok() ? exit_ok : exit_stale_or_failed_check;
                    },
                    run);
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
