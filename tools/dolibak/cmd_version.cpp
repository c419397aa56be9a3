// dolibak version: the library's version (and the program's).
#include "command.hpp"

#include <dolibak/core/version.hpp>

#include <fmt/core.h>

namespace dolibak::cli {
namespace {
const Registrar registrar{Command{"version", [](CLI::App& app, auto set_action) {
                                      auto* sub = app.add_subcommand(
                                          "version", "Print the version of dolibak");
                                      sub->callback([set_action] {
                                          set_action([] {
                                              fmt::print("dolibak {}\n", dolibak::version());
                                              return 0;
                                          });
                                      });
                                  }}};
}  // namespace
}  // namespace dolibak::cli
