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
}  // namespace dolibak::cli

int main(int argc, char** argv) {
    using namespace dolibak::cli;
    CLI::App app{
        "dolibak: backups of a Dolibarr instance (PostgreSQL + documents) to S3 or a "
        "directory, with a tiered 10-year retention and verified restores"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(dolibak::version()));
    std::function<int()> action;
    auto& commands = registry();
    std::sort(commands.begin(), commands.end(),
              [](const Command& a, const Command& b) { return a.name < b.name; });
    for (auto& c : commands) c.add(app, [&](std::function<int()> f) { action = std::move(f); });
    try {
        app.parse(argc, argv);
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
