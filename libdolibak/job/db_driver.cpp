// The real database driver: the fingerprint of fingerprint/db, a version-matched pg_dump
// streamed through the archive verifier, the archive reader for stored dumps, and pg_restore
// with proof (TOC exclusions applied through a -L list built from the stream's head).
#include "job/ops_streams.hpp"
#include "job/real_drivers.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/pg/session.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/toc_filter.hpp>
#include <dolibak/pgdump/tools.hpp>

#include <fmt/core.h>

#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>

namespace dolibak::job::detail {

namespace {

/// Between a fingerprint that exports its snapshot and the pg_dump that imports it: the id
/// passes one way; the other way, word that the snapshot was imported (or never will be), so
/// that the exporting transaction stays open until then.
class SnapshotHandoff {
public:
    void publish(const std::string& id) {
        std::lock_guard lock(m_);
        id_ = id;
        cv_.notify_all();
    }
    void fail(std::exception_ptr e) {
        std::lock_guard lock(m_);
        error_ = std::move(e);
        cv_.notify_all();
    }
    /// The id, once published; rethrows the fingerprint's failure if it came first.
    std::string snapshot() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return id_.has_value() || error_; });
        if (!id_) std::rethrow_exception(error_);
        return *id_;
    }
    void imported() {
        std::lock_guard lock(m_);
        imported_ = true;
        cv_.notify_all();
    }
    void wait_imported() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return imported_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::optional<std::string> id_;
    std::exception_ptr error_;
    bool imported_ = false;
};

class RealDatabase final : public DatabaseDriver {
public:
    explicit RealDatabase(const Config& c)
        : settings_(c.db),
          profile_(c.profile),
          temp_dir_(c.temp_dir),
          volatile_(volatile_tables(c)) {}

    catalog::ObjectKind object_kind() const override {
        return zstd() ? catalog::ObjectKind::db_dump_zst : catalog::ObjectKind::db_dump;
    }
    std::string format() const override {
        return zstd() ? "pg_dump-custom+zstd" : "pg_dump-custom";
    }

    void validate() const override {
        const auto& s = configured();
        std::error_code ec;
        if (s.tools_dir && !std::filesystem::is_directory(*s.tools_dir, ec))
            throw ConfigError("pg_tools_dir: " + s.tools_dir->string() +
                              " does not exist or is not a directory");
    }

    LiveFingerprint fingerprint(const DriverContext& ctx) override { return fingerprint(ctx, {}); }

    /// The fingerprint and the dump of one state: the fingerprint's transaction exports its
    /// snapshot, pg_dump reads it (--snapshot) while the fingerprint scans on its own
    /// connection, and the dump's object is finished only once the fingerprint is known.
    std::pair<LiveFingerprint, Produced> fingerprint_and_produce(
        io::Sink& sink, const DriverContext& ctx) override {
        pgdump::DumpOptions hooks;
        try {
            hooks.probe = pg::probe_session(configured().conn);
        } catch (...) {
            sink.abort();
            throw;
        }
        if (hooks.probe->one_session_at_a_time) {
            // A pool of one server session: pg_dump could not connect while the fingerprint
            // holds it. One after the other, as when the fingerprint decides the run.
            LiveFingerprint fp;
            try {
                fp = fingerprint(ctx);
            } catch (...) {
                sink.abort();
                throw;
            }
            Produced produced = produce(sink, ctx, hooks);
            return {std::move(fp), std::move(produced)};
        }
        SnapshotHandoff handoff;
        fingerprint::DbOptions share;
        share.share_snapshot = [&](const std::string& id) { handoff.publish(id); };
        share.before_release = [&] { handoff.wait_imported(); };
        auto scan = std::async(std::launch::async, [&] {
            try {
                return fingerprint(ctx, share);
            } catch (...) {
                handoff.fail(std::current_exception());
                throw;
            }
        });
        try {
            hooks.snapshot = handoff.snapshot();  // rethrows the scan's failure
        } catch (...) {
            sink.abort();
            throw;
        }
        LiveFingerprint fp;
        hooks.on_output = [&] { handoff.imported(); };
        hooks.before_finish = [&] { fp = scan.get(); };  // its failure aborts the sink
        Produced produced;
        try {
            produced = produce(sink, ctx, hooks);  // finishes or aborts the sink
        } catch (...) {
            // The scan's thread must end before what it refers to; when it failed, its
            // failure is the cause (a pg_dump whose snapshot ended with it fails too).
            handoff.imported();
            if (scan.valid()) scan.get();
            throw;
        }
        return {std::move(fp), std::move(produced)};
    }

    LiveFingerprint fingerprint(const DriverContext& ctx, const fingerprint::DbOptions& share) {
        const auto& s = configured();
        Produced versions;
        resolve(&versions);
        fingerprint::DbOptions fo;
        fo.mode = s.fingerprint_mode;
        fo.include_tables = {profile_.table_prefix + "*"};
        fo.exclude_tables = volatile_;
        fo.change_column = profile_.change_column;
        fo.previous_state = ctx.stored_state;
        fo.share_snapshot = share.share_snapshot;
        fo.before_release = share.before_release;
        ctx.info("fingerprinting " + s.conn.describe() +
                 (fo.share_snapshot ? " (beside the dump, in one snapshot)" : ""));
        const auto fp = fingerprint::fingerprint_database(s.conn, fo);
        ctx.info(fmt::format("fingerprint: {} of {} scanned ({})", fp.scanned,
                             count_noun(fp.tables.size(), "table"), fp.precheck));
        LiveFingerprint live{fp.value,
                             std::string(fingerprint::to_string(fo.mode)),
                             versions.tool_version,
                             versions.server_version,
                             {},
                             {}};
        for (const auto& t : fp.tables)
            live.tables.emplace(t.schema + "." + t.name, t.line_digest());
        live.schema_digest = fp.schema_digest;
        live.state = fp.state;
        live.rescanned = fp.scanned > 0;
        return live;
    }

    Produced produce(io::Sink& sink, const DriverContext& ctx) override {
        return produce(sink, ctx, {});
    }

    /// produce() with the probe, the snapshot and the hooks of `hooks` (its other fields unused).
    Produced produce(io::Sink& sink, const DriverContext& ctx, const pgdump::DumpOptions& hooks) {
        const auto& s = configured();
        Produced p;
        pgdump::DumpOptions d;
        try {
            d.tools = resolve(&p);
        } catch (...) {
            sink.abort();
            throw;
        }
        d.conn = s.conn;
        d.mode = s.dump_mode;
        d.pg_dump_level = s.pg_dump_level;
        d.zstd = s.zstd;
        d.extra_args = s.extra_dump_args;
        d.probe = hooks.probe;
        d.snapshot = hooks.snapshot;
        d.on_output = hooks.on_output;
        d.before_finish = hooks.before_finish;
        const auto dumped = pgdump::dump(d, sink);  // finishes or aborts the sink
        if (ctx.info) ctx.info("pg_dump's session: " + dumped.read_only_by);
        p.summary_json = pgdump::manifest_summary_json(dumped.summary);
        p.detail = fmt::format("{} tables", dumped.summary.tables.size());
        return p;
    }

    std::vector<std::string> check_object(io::Source& object, const std::string& key,
                                          const DriverContext&) override {
        std::vector<std::string> problems;
        auto [result, summary] = pgdump::open_and_verify(object, key);
        if (!result.ok())
            problems.push_back(
                fmt::format("dump archive: {} at byte {}", result.message, result.offset));
        else if (summary.tables.empty())
            problems.push_back("dump archive holds no table data");
        return problems;
    }

    pgdump::RestoreReport restore(io::Source& object, const std::string& key,
                                  const RestoreDbOptions& options,
                                  const DriverContext& ctx) override {
        pgdump::RestoreOptions ro = options.restore;
        if (!ro.tools_dir && !ro.tools && settings_) ro.tools_dir = settings_->tools_dir;
        if (ro.temp_dir.empty()) ro.temp_dir = temp_dir_;
        if (options.exclude.empty()) return pgdump::restore(object, ro);
        // pg_restore reads its -L list before the archive: read the TOC off the head of the
        // stream first, build the list, then replay the head and stream the rest.
        auto peeked = peek_toc(object, key);
        ro.list = exclusion_list(peeked.toc, options.exclude);
        ctx.info(fmt::format("TOC read ({}), {} applied",
                             count_noun(peeked.toc.entries.size(), "entry", "entries"),
                             count_noun(options.exclude.size(), "exclusion rule")));
        io::ReplaySource replay(std::move(peeked.head), object);
        return pgdump::restore(replay, ro);
    }

private:
    bool zstd() const { return settings_ && settings_->dump_mode == pgdump::DumpMode::zstd; }

    const DatabaseSettings& configured() const {
        if (!settings_) throw ConfigError("no database is configured");
        return *settings_;
    }

    /// The server's version and the tools of its major version (versions into `p`).
    pgdump::PgTools resolve(Produced* p = nullptr) const {
        const auto& s = configured();
        const int server = pgdump::server_version_num(s.conn);
        auto tools = pgdump::find_tools(server / 10000, s.tools_dir);
        if (p) {
            p->tool_version = "pg_dump (PostgreSQL) " + tools.version;
            p->server_version =
                std::to_string(server / 10000) + "." + std::to_string(server % 10000);
        }
        return tools;
    }

    std::optional<DatabaseSettings> settings_;
    Profile profile_;
    std::filesystem::path temp_dir_;
    std::vector<std::string> volatile_;
};

}  // namespace

std::unique_ptr<DatabaseDriver> make_real_database(const Config& config) {
    return std::make_unique<RealDatabase>(config);
}

}  // namespace dolibak::job::detail
