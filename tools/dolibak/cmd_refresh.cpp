// dolibak refresh: sandbox refresh from production — a read-only dump of the configured
// database streamed into the sandbox reset (DROP OWNED BY the sandbox role, restore as that
// role), proven; optionally a documents subtree synced; pre/post hooks run as argv (no shell),
// the post hook always.
#include "job_cli.hpp"
#include "job_text.hpp"

#include <dolibak/job/report.hpp>

namespace dolibak::cli {
namespace {

struct RefreshFlags {
    std::string to_db;
    std::string role;
    std::string docs_from, docs_to, docs_subtree;
    std::string pre_hook, post_hook;
    std::vector<std::string> pre_hook_args, post_hook_args;
    std::vector<std::string> hook_env;
    std::vector<std::string> exclude;
    std::optional<int> min_tables;
};

int run_refresh(job::Job& j, Output& out, const RefreshFlags& f, bool json) {
    if (!j.config().db)
        throw ConfigError("refresh needs the production database: set db_name (or PGDATABASE)");
    job::RefreshOptions o;
    o.source = j.config().db->conn;
    o.sandbox = parse_target(f.to_db, "--to-db");
    if (!f.role.empty()) o.sandbox.user = f.role;
    if (o.sandbox.user.empty()) throw ConfigError("--role (the sandbox owner role) is required");
    o.exclude = f.exclude;
    o.proof.min_tables = f.min_tables;
    if (!f.docs_from.empty() || !f.docs_to.empty()) {
        if (f.docs_from.empty() || f.docs_to.empty())
            throw ConfigError("--docs-from and --docs-to go together");
        o.docs_source = f.docs_from;
        o.docs_target = f.docs_to;
        o.docs_subtree = f.docs_subtree;
    } else if (!f.docs_subtree.empty()) {
        throw ConfigError("--docs-subtree needs --docs-from and --docs-to");
    }
    auto hook = [](const std::string& program, const std::vector<std::string>& args,
                   const char* flag) {
        std::vector<std::string> argv;
        if (program.empty()) {
            if (!args.empty())
                throw ConfigError(std::string("--") + flag + "-arg without --" + flag);
            return argv;
        }
        argv.push_back(program);
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    };
    o.pre_hook = hook(f.pre_hook, f.pre_hook_args, "pre-hook");
    o.post_hook = hook(f.post_hook, f.post_hook_args, "post-hook");
    o.hook_env = f.hook_env;
    out.log("info", "db", "refreshing " + o.sandbox.describe() + " from " + o.source.describe());
    const auto r = j.refresh(o);
    out.print(json ? job::to_json(r) : text::refresh(r));
    return r.post_hook_exit == 0 ? exit_ok : exit_error;
}

const Registrar registrar{Command{
    "refresh", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "refresh",
            "Refresh a sandbox from production: dump (read only) streamed into the sandbox "
            "reset, proven; optional documents subtree; pre/post hooks");
        auto f = std::make_shared<RefreshFlags>();
        sub->add_option("--to-db", f->to_db,
                        "Sandbox database: conninfo, database name or settings file (password: "
                        "DOLIBAK_TARGET_PASSWORD)")
            ->required();
        sub->add_option("--role", f->role, "The sandbox owner role (connects and owns)");
        sub->add_option("--docs-from", f->docs_from, "Production documents directory")
            ->type_name("DIR");
        sub->add_option("--docs-to", f->docs_to, "Sandbox documents directory")->type_name("DIR");
        sub->add_option("--docs-subtree", f->docs_subtree, "Only this folder (e.g. mycompany/)");
        sub->add_option("--pre-hook", f->pre_hook, "Program run before (e.g. kubectl)");
        sub->add_option("--pre-hook-arg", f->pre_hook_args,
                        "One argument of the pre hook; repeat in order")
            ->allow_extra_args(false);
        sub->add_option("--post-hook", f->post_hook,
                        "Program run after, always (on failure and interruption too)");
        sub->add_option("--post-hook-arg", f->post_hook_args,
                        "One argument of the post hook; repeat in order")
            ->allow_extra_args(false);
        sub->add_option("--hook-env", f->hook_env,
                        "Pass this variable of our environment to the hooks (they get a "
                        "minimal one; secrets only this way); repeatable")
            ->allow_extra_args(false);
        sub->add_option("--exclude", f->exclude, "TOC entries to leave out; repeatable");
        sub->add_option("--min-tables", f->min_tables,
                        "Proof: at least this many application tables (default: the profile's)");
        auto o = add_job_options(sub);
        sub->callback([set_action, o, f] {
            set_action([o, f] {
                return run_job(*o, [o, f](job::Job& j, Output& out) {
                    return run_refresh(j, out, *f, o->json);
                });
            });
        });
    }}};

}  // namespace
}  // namespace dolibak::cli
