// dolibak tar-list ARCHIVE: lists and verifies a documents archive (reads every byte);
// dolibak docs-fingerprint DIR: the documents fingerprint as the backup computes it.
#include "command.hpp"

#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/tarball/lister.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace dolibak::cli {
namespace {

std::string mode_text(const tarball::Entry& e) {
    std::string s = e.type == tarball::EntryType::directory  ? "d"
                    : e.type == tarball::EntryType::symlink  ? "l"
                    : e.type == tarball::EntryType::hardlink ? "h"
                    : e.type == tarball::EntryType::file     ? "-"
                                                             : "?";
    const char* bits = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) s += (e.mode & (0400u >> i)) ? bits[i] : '-';
    return s;
}

std::string time_text(std::int64_t sec) {
    const std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const Registrar tar_list{Command{
    "tar-list", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "tar-list", "List and verify a documents archive (.tar, .tar.gz, .tar.zst)");
        auto file = std::make_shared<std::string>();
        auto json = std::make_shared<bool>(false);
        auto quiet = std::make_shared<bool>(false);
        sub->add_option("archive", *file, "Archive file ('-' for stdin)")->required();
        sub->add_flag("--json", *json, "One JSON object per entry, then a summary object");
        sub->add_flag("-q,--quiet", *quiet, "Only the summary (still reads every byte)");
        sub->callback([set_action, file, json, quiet] {
            set_action([file, json, quiet] {
                std::unique_ptr<io::Source> src;
                if (*file == "-")
                    src = std::make_unique<io::FdSource>(io::UniqueFd(::dup(0)), "stdin");
                else
                    src = std::make_unique<io::FileSource>(*file);
                const auto summary = tarball::list_tar(*src, [&](const tarball::Entry& e) {
                    if (*quiet) return;
                    if (*json) {
                        nlohmann::json j{{"schema", "dolibak.tar-entry/1"},  // docs/json.md
                                         {"path", e.path},
                                         {"type", tarball::to_string(e.type)},
                                         {"size", e.size},
                                         {"mode", fmt::format("{:04o}", e.mode)},
                                         {"mtime", e.mtime_sec},
                                         {"mtime_nsec", e.mtime_nsec}};
                        if (!e.link_target.empty()) j["link_target"] = e.link_target;
                        fmt::print("{}\n", j.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace));
                    } else {
                        fmt::print(
                            "{} {:>12} {} {}{}\n", mode_text(e), e.size, time_text(e.mtime_sec),
                            e.path,
                            e.link_target.empty()
                                ? ""
                                : (e.type == tarball::EntryType::symlink ? " -> " : " link to ") +
                                      e.link_target);
                    }
                });
                if (*json) {
                    nlohmann::json j{{"schema", "dolibak.tar-summary/1"},
                                     {"summary",
                                      {{"entries", summary.entries},
                                       {"files", summary.files},
                                       {"directories", summary.directories},
                                       {"symlinks", summary.symlinks},
                                       {"hardlinks", summary.hardlinks},
                                       {"other", summary.other},
                                       {"content_bytes", summary.content_bytes},
                                       {"archive_bytes", summary.archive_bytes},
                                       {"compression", summary.compression},
                                       {"format", summary.format}}}};
                    fmt::print("{}\n", j.dump());
                } else {
                    fmt::print(
                        "{} entries ({} files, {} directories, {} symlinks, {} hard links), {} "
                        "content bytes, "
                        "{} archive bytes, {}, {}: OK\n",
                        summary.entries, summary.files, summary.directories, summary.symlinks,
                        summary.hardlinks, summary.content_bytes, summary.archive_bytes,
                        summary.compression, summary.format);
                }
                return 0;
            });
        });
    }}};

const Registrar docs_fp{
    Command{"docs-fingerprint", [](CLI::App& app, auto set_action) {
                auto* sub = app.add_subcommand("docs-fingerprint",
                                               "Print the documents fingerprint of a directory");
                auto dir = std::make_shared<std::string>();
                auto content = std::make_shared<bool>(false);
                auto excludes = std::make_shared<std::vector<std::string>>();
                auto no_default = std::make_shared<bool>(false);
                sub->add_option("dir", *dir, "Documents directory")
                    ->required()
                    ->check(CLI::ExistingDirectory);
                sub->add_flag("--content", *content, "Hash file contents too (reads everything)");
                sub->add_option("--exclude", *excludes, "Extra exclude glob (repeatable)");
                sub->add_flag("--no-default-excludes", *no_default,
                              "Do not exclude Dolibarr's regenerated files");
                sub->callback([set_action, dir, content, excludes, no_default] {
                    set_action([dir, content, excludes, no_default] {
                        fingerprint::DocsOptions o;
                        o.content = *content;
                        if (*no_default) o.excludes.clear();
                        o.excludes.insert(o.excludes.end(), excludes->begin(), excludes->end());
                        const auto fp = fingerprint::docs_fingerprint(*dir, o);
                        fmt::print("{}  {} entries, {} files, {} bytes\n", fp.sha256, fp.entries,
                                   fp.files, fp.bytes);
                        return 0;
                    });
                });
            }}};

}  // namespace
}  // namespace dolibak::cli
