// dolibak list: the backups in the store (per half: time, size, how runs used them, whether a
// manifest names them — objects of the old scripts have none) and the runs.
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

const Registrar registrar{
    Command{"list", [](CLI::App& app, auto set_action) {
                auto* sub = app.add_subcommand("list", "List the backups and runs in the store");
                auto manifests = std::make_shared<bool>(false);
                sub->add_flag("--manifests", *manifests,
                              "With --json: each run's whole manifest too (docs/json.md)");
                auto o = add_job_options(sub);
                sub->callback([set_action, o, manifests] {
                    set_action([o, manifests] {
                        return run_job(*o, [o, manifests](job::Job& j, Output& out) {
                            const auto r = j.list();
                            out.print(o->json ? job::to_json(r, {*manifests}) : text::list(r));
                            return exit_ok;
                        });
                    });
                });
            }}};

}  // namespace
}  // namespace dolibak::cli
