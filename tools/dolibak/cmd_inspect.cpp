// dolibak inspect FILE|-: reads a pg_dump custom archive natively, verifies it and prints its
// summary, its pg_restore -l listing (--list) or both as JSON (--json).
#include "command.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <memory>

namespace dolibak::cli {
namespace {

struct InspectArgs {
    std::string file;
    bool json = false;
    bool list = false;
    bool verbose = false;
    bool no_header = false;
};

int run_inspect(const InspectArgs& a) {
    std::unique_ptr<io::Source> src;
    if (a.file == "-") {
        const int fd = ::dup(0);
        if (fd < 0) throw IoError("cannot read", "stdin", errno);
        src = std::make_unique<io::FdSource>(io::UniqueFd(fd), "stdin");
    } else {
        src = std::make_unique<io::FileSource>(a.file);
    }
    auto [result, summary] = pgdump::open_and_verify(*src, a.file);
    if (a.json) {
        fmt::print("{}\n", pgdump::verification_json(result, summary));
    } else if (a.list) {
        pgdump::ListingOptions o;
        o.header = !a.no_header;
        o.verbose = a.verbose;
        fmt::print("{}", pgdump::listing(summary, o));
    } else {
        const auto& h = summary.header;
        fmt::print("archive:      {} ({} bytes)\n", a.file, summary.archive_bytes);
        fmt::print("format:       custom {} (int {} / offset {} bytes), offsets {}\n",
                   h.version_string(), h.int_size, h.offset_size,
                   summary.offsets_set ? "set" : "not set");
        if (summary.toc_copy_bytes > 0)
            fmt::print(
                "TOC copy:     {} bytes after the data (pg_dump writing to an appended "
                "file)\n",
                summary.toc_copy_bytes);
        fmt::print("database:     {}\n", h.dbname);
        fmt::print("created:      {}\n", h.created);
        fmt::print("server:       {}\n", h.server_version);
        fmt::print("pg_dump:      {}\n", h.pg_dump_version);
        fmt::print("compression:  {}\n", pgdump::to_string(h.compression));
        fmt::print("TOC entries:  {}\n", h.toc_count);
        for (const auto& [desc, n] : summary.counts_by_desc) fmt::print("  {:<24} {}\n", desc, n);
        std::uint64_t rows = 0;
        for (const auto& t : summary.tables) rows += t.rows.value_or(0);
        fmt::print("tables:       {} with data, {} rows, {} bytes uncompressed\n",
                   summary.tables.size(), rows, summary.data_bytes);
        fmt::print("large objects: {}\n", summary.large_objects);
        if (result.ok())
            fmt::print("verification: ok\n");
        else
            fmt::print("verification: FAILED at byte {}: {}\n", result.offset, result.message);
    }
    if (!result.ok()) {
        if (!a.json)
            fmt::print(stderr, "dolibak: {}: {} (at byte {})\n", a.file, result.message,
                       result.offset);
        return exit_stale_or_failed_check;
    }
    return exit_ok;
}

const Registrar registrar{Command{
    "inspect", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "inspect", "Read and verify a pg_dump custom archive (.dump, or .dump.zst) natively");
        auto args = std::make_shared<InspectArgs>();
        sub->add_option("file", args->file, "Archive file, or - for standard input")->required();
        sub->add_flag("--json", args->json, "Print the summary, entries and verification as JSON");
        sub->add_flag("-l,--list", args->list, "Print the listing pg_restore -l prints");
        sub->add_flag("-v,--verbose", args->verbose, "With --list: every entry, with dependencies");
        sub->add_flag("--no-header", args->no_header, "With --list: no header comment lines");
        sub->callback([set_action, args] { set_action([args] { return run_inspect(*args); }); });
    }}};

}  // namespace
}  // namespace dolibak::cli
