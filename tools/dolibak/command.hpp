#pragma once
// Subcommands of the dolibak CLI. Each cmd_*.cpp file defines one and registers it with a
// static Registrar; main() builds the CLI11 app from the registry. The CLI only parses
// arguments and formats results: the work is done by libdolibak.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace dolibak::cli {

/// Exit codes, documented in docs/cli.md.
enum ExitCode : int {
    exit_ok = 0,
    exit_stale_or_failed_check = 1,  ///< status: last success too old; verify/check found defects
    exit_usage = 2,                  ///< bad flags or settings
    exit_error = 3,                  ///< the operation failed
    exit_sigint = 130,
    exit_sigterm = 143,
};

struct Command {
    std::string name;
    /// Adds the subcommand and its options to the app, and sets what it runs; the callback
    /// returns the process exit code.
    std::function<void(CLI::App& app, std::function<void(std::function<int()>)> set_action)> add;
};

std::vector<Command>& registry();

struct Registrar {
    explicit Registrar(Command c) { registry().push_back(std::move(c)); }
};

}  // namespace dolibak::cli
