// dolibak status: the last successful run and its age; exit 1 when older than --max-age.
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

struct StatusFlags {
    std::string max_age = "26h";
    std::string metrics;
    bool manifests = false;
};

const Registrar registrar{Command{
    "status", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "status",
            "The last successful run and its age; exit 1 when it is older than --max-age");
        auto f = std::make_shared<StatusFlags>();
        sub->add_option("--max-age", f->max_age,
                        "Stale beyond this age (default 26h; e.g. 90m, 2d, 1h30m)");
        sub->add_option("--metrics", f->metrics,
                        "Write Prometheus textfile metrics to this file (atomically)")
            ->type_name("FILE");
        sub->add_flag("--manifests", f->manifests,
                      "With --json: the whole manifests of the last run and last success");
        auto o = add_job_options(sub);
        sub->callback([set_action, o, f] {
            set_action([o, f] {
                return run_job(*o, [o, f](job::Job& j, Output& out) {
                    // A bad --max-age is a configuration error logged as ERROR (exit 2).
                    const auto max_age = job::parse_duration(f->max_age, "--max-age");
                    std::optional<std::filesystem::path> metrics;
                    if (!f->metrics.empty()) metrics = f->metrics;
                    const auto r = j.status(max_age, metrics);
                    out.print(o->json ? job::to_json(r, {f->manifests})
                                      : text::status(r, static_cast<double>(max_age.count())));
                    return r.stale ? exit_stale_or_failed_check : exit_ok;
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
