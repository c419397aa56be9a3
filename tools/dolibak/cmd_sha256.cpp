// dolibak sha256 FILE...: the SHA-256 of files, as the manifests record them.
#include "command.hpp"

#include <dolibak/io/hash.hpp>

#include <fmt/core.h>

namespace dolibak::cli {
namespace {
const Registrar registrar{Command{
    "sha256", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand("sha256", "Print the SHA-256 of files (as in manifests)");
        auto files = std::make_shared<std::vector<std::string>>();
        sub->add_option("files", *files, "Files to hash")->required()->check(CLI::ExistingFile);
        sub->callback([set_action, files] {
            set_action([files] {
                for (const auto& f : *files)
                    fmt::print("{}  {}\n", dolibak::io::sha256_file_hex(f), f);
                return 0;
            });
        });
    }}};
}  // namespace
}  // namespace dolibak::cli
