#pragma once
// What the CLI says about itself, generated from the CLI11 app it parses with (so a command,
// a flag or a setting added to the code appears everywhere at once): `dolibak help
// settings`, the bash and zsh completion scripts, the man page, and the did-you-mean of an
// unknown command or flag.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace dolibak::cli {

/// The settings flags grouped by topic, with their values and environment variables.
std::string settings_help();

/// `complete -F _dolibak dolibak` and its function.
std::string bash_completion(const CLI::App& app);
/// A #compdef file for zsh's completion system (fpath/_dolibak).
std::string zsh_completion(const CLI::App& app);
/// dolibak(1) in roff (man macros).
std::string man_page(const CLI::App& app);

/// "unknown command 'backpu'; did you mean 'backup'?" when `word` is not a command of `app`
/// (the program, or a command with subcommands such as restore); nullopt when it is one.
std::optional<std::string> unknown_command(const CLI::App& app, const std::string& word);

/// The messages for the unknown options among `extras` given to `command` ("unknown option
/// '--sotre'; did you mean '--store'?"); empty when none of them looks like an option.
std::vector<std::string> unknown_options(const CLI::App& command,
                                         const std::vector<std::string>& extras);

}  // namespace dolibak::cli
