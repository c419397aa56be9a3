// dolibak help [command...|settings], dolibak completion bash|zsh, dolibak man: what the CLI
// says about itself, generated from the app it parses with (cli_docs.hpp).
#include "cli_docs.hpp"
#include "command.hpp"

#include <dolibak/core/error.hpp>

#include <fmt/core.h>

#include <cerrno>
#include <fstream>

namespace dolibak::cli {
namespace {

/// Prints `text` on stdout, or writes it to `file` when one is given.
int emit(const std::string& text, const std::string& file) {
    if (file.empty()) {
        fmt::print("{}", text);
        return exit_ok;
    }
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot create", file, errno);
    out << text;
    out.close();
    if (!out) throw IoError("cannot write", file, errno);
    return exit_ok;
}

const Registrar help_registrar{Command{
    "help", [](CLI::App& app, auto set_action) {
        auto* sub =
            app.add_subcommand("help",
                               "Help on a command (dolibak help backup) or on the settings flags "
                               "(dolibak help settings)");
        auto topic = std::make_shared<std::vector<std::string>>();
        sub->add_option("topic", *topic, "A command (restore db), or settings");
        sub->callback([set_action, topic, &app] {
            set_action([topic, &app]() -> int {
                if (topic->size() == 1 && topic->front() == "settings") {
                    fmt::print("{}", settings_help());
                    return exit_ok;
                }
                const CLI::App* cmd = &app;
                std::string prefix;  // "dolibak restore" for restore db
                for (const auto& word : *topic) {
                    prefix += (prefix.empty() ? "" : " ") + cmd->get_name();
                    if (const auto unknown = unknown_command(*cmd, word)) {
                        throw ConfigError(*unknown +
                                          (cmd == &app ? "; or: dolibak help settings" : ""));
                    }
                    cmd = cmd->get_subcommand(word);
                }
                fmt::print("{}", cmd->help(prefix));
                return exit_ok;
            });
        });
    }}};

const Registrar completion_registrar{Command{
    "completion", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "completion",
            "Print the shell completion script: bash (source it, or install it as "
            "/usr/share/bash-completion/completions/dolibak) or zsh (as _dolibak in $fpath)");
        auto shell = std::make_shared<std::string>();
        auto file = std::make_shared<std::string>();
        sub->add_option("shell", *shell, "bash or zsh")
            ->required()
            ->check(CLI::IsMember({"bash", "zsh"}));
        sub->add_option("-o,--output", *file, "Write it to this file instead of stdout")
            ->type_name("FILE");
        sub->callback([set_action, shell, file, &app] {
            set_action([shell, file, &app] {
                return emit(*shell == "bash" ? bash_completion(app) : zsh_completion(app), *file);
            });
        });
    }}};

const Registrar man_registrar{
    Command{"man", [](CLI::App& app, auto set_action) {
                auto* sub = app.add_subcommand(
                    "man", "Print the manual page dolibak(1) in roff (man -l <(dolibak man))");
                auto file = std::make_shared<std::string>();
                sub->add_option("-o,--output", *file, "Write it to this file instead of stdout")
                    ->type_name("FILE");
                sub->callback([set_action, file, &app] {
                    set_action([file, &app] { return emit(man_page(app), *file); });
                });
            }}};

}  // namespace
}  // namespace dolibak::cli
