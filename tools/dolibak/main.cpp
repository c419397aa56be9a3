#include "cli_docs.hpp"
#include "command.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/version.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <iostream>

namespace dolibak::cli {
std::vector<Command>& registry() {
    static std::vector<Command> commands;
    return commands;
}

namespace {

/// The deepest command the parse reached ("restore db"), and its name.
std::pair<const CLI::App*, std::string> parsed_command(const CLI::App& app) {
    const CLI::App* cmd = &app;
    std::string name = "dolibak";
    for (;;) {
        const auto subs = cmd->get_subcommands();
        if (subs.empty()) return {cmd, name};
        cmd = subs.front();
        name += " " + cmd->get_name();
    }
}

}  // namespace
}  // namespace dolibak::cli

int main(int argc, char** argv) {
    using namespace dolibak::cli;
    CLI::App app{
        "dolibak: backups of a Dolibarr instance (PostgreSQL + documents) to S3 or a "
        "directory, with a tiered 10-year retention and verified restores",
        "dolibak"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(dolibak::version()));
    app.footer("dolibak help <command> for its options; dolibak help settings for the settings");
    std::function<int()> action;
    auto& commands = registry();
    std::sort(commands.begin(), commands.end(),
              [](const Command& a, const Command& b) { return a.name < b.name; });
    for (auto& c : commands) c.add(app, [&](std::function<int()> f) { action = std::move(f); });
    // The first word that is not an option names the command, the next one its subcommand
    // when it has some (restore db): neither the program nor such a command has an option
    // that takes a value. A typo gets a suggestion instead of CLI11's "A subcommand is
    // required".
    const CLI::App* level = &app;
    bool help_or_version = false;
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        help_or_version =
            help_or_version || word == "--help" || word == "-h" || word == "--version";
        if (word.starts_with("-")) continue;
        if (const auto unknown = unknown_command(*level, word)) {
            fmt::print(stderr, "dolibak: {}\n", *unknown);
            return exit_usage;
        }
        level = level->get_subcommand(word);
        if (level->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })
                .empty())
            break;
    }
    if (level == &app && !help_or_version) {
        fmt::print(stderr, "dolibak: a command is required (dolibak --help lists them)\n");
        return exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ExtrasError& e) {
        const auto [cmd, name] = parsed_command(app);
        const auto messages = unknown_options(*cmd, app.remaining(true));
        if (messages.empty()) {
            app.exit(e);
        } else {
            for (const auto& m : messages) fmt::print(stderr, "{}: {}\n", name, m);
            fmt::print(stderr, "Run with --help for more information.\n");
        }
        return exit_usage;
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        return action ? action() : exit_usage;
    } catch (const dolibak::ConfigError& e) {
        fmt::print(stderr, "dolibak: {}\n", e.what());
        return exit_usage;
    } catch (const dolibak::Cancelled& e) {
        fmt::print(stderr, "dolibak: {}\n", e.what());
        return exit_sigint;
    } catch (const std::exception& e) {
        fmt::print(stderr, "dolibak: {}\n", e.what());
        return exit_error;
    }
}
