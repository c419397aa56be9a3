// Job::refresh: a sandbox reset from production — pg_dump of the source (read-only session)
// streamed into pgdump::reset_sandbox as the sandbox owner, an optional documents subtree
// copied the same way, framed by pre/post hooks where the post hook always runs.
#include "job/job_impl.hpp"
#include "job/ops_streams.hpp"
#include "job/real_drivers.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/writer.hpp>

#include <fmt/core.h>

#include <exception>
#include <thread>
#include <utility>

namespace dolibak::job {

namespace {

// Runs `produce(sink)` in a thread writing into a pipe while `consume(source)` reads it here.
// The producer's error wins over the consumer's (it is the cause: the consumer only saw the
// stream break); a cancellation stops both.
template <typename Produce, typename Consume>
auto piped(const std::shared_ptr<CancelToken>& cancel, Produce produce, Consume consume) {
    detail::ThreadPipe pipe(cancel);
    std::exception_ptr producer_error;
    std::thread producer([&] {
        try {
            produce(pipe.sink());
        } catch (...) {
            producer_error = std::current_exception();
            pipe.sink().abort();
        }
    });
    try {
        auto result = consume(pipe.source());
        // The consumer may stop at its own end marker (the tar's zero blocks): take what the
        // producer still writes so that it can finish.
        std::vector<std::byte> rest(64 * 1024);
        while (pipe.source().read(rest) > 0) {
        }
        producer.join();
        if (producer_error) std::rethrow_exception(producer_error);
        return result;
    } catch (...) {
        // Did the producer fail first (the consumer then only saw the stream break)? The pipe
        // knows: a producer aborts it before it throws (pgdump::dump aborts its sink itself),
        // and this side has not closed it yet, so an abort now is the producer's own failure.
        const bool producer_first = pipe.producer_aborted();
        pipe.close();
        if (producer.joinable()) producer.join();
        if (producer_first && producer_error && !(cancel && cancel->cancelled()))
            std::rethrow_exception(producer_error);
        throw;
    }
}

// Tells when the restore starts reading (the sandbox has been reset by then), and checks the
// cancel token on every read, the replayed head included.
class StartNotifyingSource final : public io::Source {
public:
    StartNotifyingSource(io::Source& inner, std::shared_ptr<CancelToken> cancel,
                         std::function<void()> on_start)
        : inner_(inner), cancel_(std::move(cancel)), on_start_(std::move(on_start)) {}
    std::size_t read(io::MutableBytes buf) override {
        if (on_start_) std::exchange(on_start_, nullptr)();
        if (cancel_) cancel_->check("restoring into the sandbox");
        return inner_.read(buf);
    }

private:
    io::Source& inner_;
    std::shared_ptr<CancelToken> cancel_;
    std::function<void()> on_start_;
};

}  // namespace

RefreshReport Job::refresh(const RefreshOptions& options) {
    Impl& im = *impl_;
    if (options.source.dbname.empty())
        throw ConfigError("refresh: no source (production) database given");
    if (options.sandbox.dbname.empty() || options.sandbox.user.empty() ||
        options.sandbox.host.empty())
        throw ConfigError(
            "refresh: the sandbox needs an explicit host, user (its owner role) "
            "and database name");
    if (options.source.host == options.sandbox.host &&
        options.source.port == options.sandbox.port &&
        options.source.dbname == options.sandbox.dbname)
        throw ConfigError("refresh: the sandbox is the source database " +
                          options.source.describe());
    const bool with_docs = !options.docs_source.empty() || !options.docs_target.empty();
    if (with_docs && (options.docs_source.empty() || options.docs_target.empty()))
        throw ConfigError("refresh: a documents sync needs both the source and the target tree");

    RefreshReport report;
    std::exception_ptr failure;
    std::string outcome = "ok";
    // The sandbox's own dump, taken before anything is dropped: a refresh that fails or is
    // cancelled once the sandbox was reset puts it back.
    std::filesystem::path safety;
    bool sandbox_reset = false;
    try {
        if (!options.pre_hook.empty()) {
            im.check_cancel("starting the pre hook");
            im.info("", "pre hook: " + options.pre_hook.front());
            std::string err;
            const int code =
                detail::run_hook(options.pre_hook, detail::hook_environment(options, "pre"), &err);
            if (code != 0)
                throw ProcessError(fmt::format("the pre hook exited with {}", code),
                                   options.pre_hook.front(), code, 0, err);
        }
        im.check_cancel("starting the refresh");

        // ---- database ----
        pgdump::DumpOptions dump;
        dump.conn = options.source;
        if (im.config.db) {
            dump.tools_dir = im.config.db->tools_dir;
            dump.extra_args = im.config.db->extra_dump_args;
        }
        // Uncompressed: the stream never leaves this process.
        dump.mode = pgdump::DumpMode::pg_dump_compressed;
        dump.pg_dump_level = 0;
        pgdump::RestoreOptions ro;
        ro.target = options.sandbox;
        ro.proof = im.proof(options.proof);
        if (im.config.db) ro.tools_dir = im.config.db->tools_dir;
        ro.temp_dir = im.config.temp_dir;
        {
            const int server = pgdump::server_version_num(options.sandbox);
            const auto tools = pgdump::find_tools(server / 10000, ro.tools_dir);
            const auto dir = im.config.temp_dir.empty() ? std::filesystem::temp_directory_path()
                                                        : im.config.temp_dir;
            const auto path = dir / ("dolibak-sandbox-" + options.sandbox.dbname + "-" +
                                     format_timestamp(im.now()) + ".dump");
            im.info("db", "safety dump of the sandbox into " + path.string());
            pgdump::take_safety_dump(options.sandbox, tools, path);
            safety = path;  // ours from here on (never someone else's file of that name)
        }
        im.check_cancel("starting the refresh");
        const std::string what = options.source.describe();
        im.info("db", "refreshing " + options.sandbox.describe() + " from " + what);
        report.restore = piped(
            im.config.cancel,
            [&](io::Sink& sink) {
                const auto dumped = pgdump::dump(dump, sink);
                im.info("db", "pg_dump's session: " + dumped.read_only_by);
            },
            [&](io::Source& src) {
                detail::CheckedSource counted(
                    src, "the dump of " + what, {}, im.config.cancel, [&im](std::uint64_t n) {
                        im.emit({Event::Kind::progress, "db", "refreshing", n, std::nullopt});
                    });
                // Nothing is dropped before the source has delivered its whole TOC: an
                // unreachable or failing source leaves the sandbox as it was.
                auto peeked = detail::peek_toc(counted, "the dump of " + what);
                if (!options.exclude.empty())
                    ro.list = detail::exclusion_list(peeked.toc, options.exclude);
                im.info("db", fmt::format("source TOC read ({} entries): resetting the sandbox",
                                          peeked.toc.entries.size()));
                im.check_cancel("resetting the sandbox");
                io::ReplaySource replay(std::move(peeked.head), counted);
                StartNotifyingSource restoring(replay, im.config.cancel, [&] {
                    im.info("db", "sandbox reset: restoring the stream as " + ro.target.user);
                });
                sandbox_reset = true;
                return pgdump::reset_sandbox(restoring, ro);
            });
        im.info("db", fmt::format("sandbox restored and proved: {} tables match {}",
                                  report.restore.pattern_tables, ro.proof.pattern()));

        // ---- documents ----
        if (with_docs) {
            im.check_cancel("syncing the documents");
            const auto from = options.docs_subtree.empty()
                                  ? options.docs_source
                                  : options.docs_source / options.docs_subtree;
            const auto to = options.docs_subtree.empty()
                                ? options.docs_target
                                : options.docs_target / options.docs_subtree;
            im.info("docs", "syncing " + from.string() + " to " + to.string());
            tarball::WriteOptions wo;
            wo.compression = tarball::Compression::none;
            wo.excludes = detail::document_excludes(im.config);
            if (im.config.docs) wo.skip_unreadable = im.config.docs->skip_unreadable;
            wo.on_warning = [&im](const tarball::Warning& w) {
                im.warn("docs", w.path + ": " + w.message);
            };
            report.docs = piped(
                im.config.cancel,
                [&](io::Sink& sink) {
                    tarball::write_tar(from, sink, wo);
                    sink.finish();
                },
                [&](io::Source& src) {
                    detail::CheckedSource counted(src, "the documents of " + from.string(), {},
                                                  im.config.cancel);
                    tarball::ExtractOptions xo;
                    xo.on_warning = [&im](const std::string& w) { im.warn("docs", w); };
                    return tarball::extract_tar(counted, to, xo);
                });
            im.info("docs", fmt::format("documents synced: {} files", report.docs->files));
        }
    } catch (const Cancelled&) {
        failure = std::current_exception();
        outcome = "cancelled";
    } catch (...) {
        failure = std::current_exception();
        outcome = "failed";
    }

    // ---- a failed or cancelled refresh puts the sandbox back ----
    if (failure && sandbox_reset) {
        im.warn("db",
                "the refresh " + outcome + ": putting the sandbox back from " + safety.string());
        try {
            pgdump::RestoreOptions back;
            back.target = options.sandbox;
            if (im.config.db) back.tools_dir = im.config.db->tools_dir;
            back.temp_dir = im.config.temp_dir;
            back.proof.table_pattern = "%";
            back.proof.min_tables = 0;
            io::FileSource in(safety);
            pgdump::reset_sandbox(in, back);
            im.info("db", "sandbox put back as it was before the refresh");
        } catch (const std::exception& e) {
            im.warn("db", std::string("the sandbox could not be put back (") + e.what() +
                              "): its dump before the refresh is kept in " + safety.string());
            safety.clear();  // kept
        }
    }
    if (!safety.empty()) {
        std::error_code ec;
        std::filesystem::remove(safety, ec);
    }

    // ---- post hook: always ----
    if (!options.post_hook.empty()) {
        im.info("", "post hook (" + outcome + "): " + options.post_hook.front());
        std::string err;
        try {
            report.post_hook_exit = detail::run_hook(
                options.post_hook, detail::hook_environment(options, "post", outcome), &err);
        } catch (const Error& e) {
            report.post_hook_exit = -1;
            err = e.what();
        }
        if (report.post_hook_exit != 0)
            im.warn("", fmt::format("the post hook exited with {}{}", report.post_hook_exit,
                                    err.empty() ? std::string() : ": " + err));
    }
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (Error& e) {
            if (!options.post_hook.empty())
                e.with_context(fmt::format("refresh (the post hook ran and exited with {})",
                                           report.post_hook_exit));
            throw;
        }
    }
    return report;
}

}  // namespace dolibak::job
