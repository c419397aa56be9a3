// dolibak verify [ts|latest] [--quick]: download a run's objects and check every byte (or,
// quick, their presence and sizes).
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

const Registrar registrar{Command{
    "verify", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "verify",
            "Download a run's objects and check every byte (SHA-256, whole dump archive, whole "
            "tar); exit 1 when a defect is found");
        auto which = std::make_shared<std::string>("latest");
        sub->add_option(
            "which", *which,
            "latest (default) or a run's time (20261123T020000Z or 2026-11-23T02:00:00Z)");
        auto quick = std::make_shared<bool>(false);
        sub->add_flag("--quick", *quick,
                      "Presence and sizes only: each object is in the store with its manifest's "
                      "size, and every pack a documents index names is there (the index is "
                      "read); nothing else is downloaded, nothing recorded");
        auto o = add_job_options(sub);
        sub->callback([set_action, o, which, quick] {
            set_action([o, which, quick] {
                return run_job(*o, [o, which, quick](job::Job& j, Output& out) {
                    job::VerifyOptions vo;
                    vo.quick = *quick;
                    const auto r = j.verify(*which, vo);
                    out.print(o->json ? job::to_json(r) : text::verify(r));
                    return r.ok() ? exit_ok : exit_stale_or_failed_check;
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
