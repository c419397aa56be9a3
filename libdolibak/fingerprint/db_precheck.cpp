// The database fingerprint's pre-check (see db_precheck.hpp and docs/fingerprint.md).
#include "fingerprint/db_precheck.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/pg/connection.hpp>

#include <fmt/core.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

namespace dolibak::fingerprint::detail {

namespace {

using nlohmann::json;

constexpr int state_version = 1;

std::string value(const pg::Result& r, int row, int col) {
    return PQgetisnull(r.get(), row, col) ? std::string() : PQgetvalue(r.get(), row, col);
}

// "xmin:xmax:xip,xip,..." -> xmax and the in-progress ids; nothing when not that shape.
std::optional<std::pair<std::string, std::vector<std::string>>> parse_snapshot(
    const std::string& s) {
    const auto a = s.find(':');
    if (a == std::string::npos) return std::nullopt;
    const auto b = s.find(':', a + 1);
    if (b == std::string::npos || b == a + 1) return std::nullopt;
    std::string xmax = s.substr(a + 1, b - a - 1);
    std::vector<std::string> xip;
    std::string rest = s.substr(b + 1);
    std::size_t from = 0;
    while (from < rest.size()) {
        auto comma = rest.find(',', from);
        if (comma == std::string::npos) comma = rest.size();
        xip.push_back(rest.substr(from, comma - from));
        from = comma + 1;
    }
    for (const auto& id : xip)
        if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
    if (xmax.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::make_pair(std::move(xmax), std::move(xip));
}

}  // namespace

ServerSignals read_signals(pg::Connection& c) {
    ServerSignals s;
    // One statement: its snapshot (the first column) is taken before the sessions and the
    // counters are read, so whatever the counters show committed is visible to it... and to
    // the fingerprint's own snapshot, taken later.
    auto r = c.exec(fmt::format(
        "SELECT pg_current_snapshot()::text, pg_postmaster_start_time()::text, d.oid::text, "
        "(SELECT s.stats_reset::text FROM pg_stat_database s WHERE s.datid = d.oid), "
        "(SELECT b.stats_reset::text FROM pg_stat_bgwriter b), "
        "current_setting('track_counts'), pg_is_in_recovery()::text, "
        "(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid "
        "AND a.pid <> pg_backend_pid() "
        "AND a.backend_type IS DISTINCT FROM 'autovacuum worker' "
        "AND NOT coalesce(a.state = 'idle' AND a.state_change < clock_timestamp() - "
        "interval '{} seconds', false))::text "
        "FROM pg_database d WHERE d.datname = current_database()",
        idle_flush_seconds));
    if (PQntuples(r.get()) != 1) throw DatabaseError("the current database is not in pg_database");
    s.snapshot = value(r, 0, 0);
    s.postmaster_start = value(r, 0, 1);
    s.database = value(r, 0, 2);
    s.stats_reset = value(r, 0, 3);
    s.shared_stats_reset = value(r, 0, 4);
    s.track_counts = value(r, 0, 5) == "on";
    s.in_recovery = value(r, 0, 6) == "true";
    s.busy_sessions = std::stoul(value(r, 0, 7));
    // A second statement, after the sessions were found idle: every change they committed is
    // flushed by now and in these counters.
    auto t = c.exec(
        "SELECT c.oid::text, c.relfilenode::text || '/' || pg_stat_get_tuples_inserted(c.oid) || "
        "'/' || pg_stat_get_tuples_updated(c.oid) || '/' || pg_stat_get_tuples_deleted(c.oid) "
        "FROM pg_class c WHERE c.relkind = 'r'");
    for (int i = 0; i < PQntuples(t.get()); ++i) s.counters.emplace(value(t, i, 0), value(t, i, 1));
    return s;
}

bool any_committed(pg::Connection& c, const std::vector<std::string>& xids) {
    if (xids.empty()) return false;
    std::string list;
    for (const auto& x : xids) list += (list.empty() ? "" : ",") + x;
    // An id too old for pg_xact_status (NULL) counts as committed: it cannot be told apart.
    auto r = c.exec("SELECT count(*) FROM unnest(string_to_array(" + c.quote_literal(list) +
                    ", ',')) AS x WHERE coalesce(pg_xact_status(x::xid8), 'committed') = "
                    "'committed'");
    return value(r, 0, 0) != "0";
}

std::string PrecheckState::to_json() const {
    json t = json::object();
    for (const auto& [name, st] : tables)
        t[name] = {
            {"oid", st.oid}, {"counters", st.counters}, {"rows", st.rows}, {"digest", st.digest}};
    json j = {{"version", state_version},
              {"options", options},
              {"schema_digest", schema_digest},
              {"snapshot", server.snapshot},
              {"postmaster_start", server.postmaster_start},
              {"database", server.database},
              {"stats_reset", server.stats_reset},
              {"shared_stats_reset", server.shared_stats_reset},
              {"track_counts", server.track_counts},
              {"tables", std::move(t)}};
    return j.dump();
}

std::optional<PrecheckState> PrecheckState::from_json(const std::string& text) {
    try {
        const auto j = json::parse(text);
        if (!j.is_object() || j.value("version", 0) != state_version) return std::nullopt;
        PrecheckState s;
        s.options = j.at("options").get<std::string>();
        s.schema_digest = j.at("schema_digest").get<std::string>();
        s.server.snapshot = j.at("snapshot").get<std::string>();
        s.server.postmaster_start = j.at("postmaster_start").get<std::string>();
        s.server.database = j.at("database").get<std::string>();
        s.server.stats_reset = j.at("stats_reset").get<std::string>();
        s.server.shared_stats_reset = j.at("shared_stats_reset").get<std::string>();
        s.server.track_counts = j.at("track_counts").get<bool>();
        for (const auto& [name, t] : j.at("tables").items())
            s.tables.emplace(
                name,
                StoredTable{t.at("oid").get<std::string>(), t.at("counters").get<std::string>(),
                            t.at("rows").get<std::uint64_t>(), t.at("digest").get<std::string>()});
        return s;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

Verdict judge(const std::optional<PrecheckState>& stored, const std::string& options,
              const ServerSignals& now,
              const std::function<bool(const std::vector<std::string>& xids)>& committed) {
    if (!stored) return {Trust::nothing, "no stored pre-check state"};
    const auto& was = stored->server;
    if (stored->options != options) return {Trust::nothing, "other fingerprint options"};
    // A restart, a failover or a point-in-time recovery can reuse transaction ids and lose
    // statistics: only states of this very server process (and database) are trusted.
    if (was.database != now.database || was.postmaster_start != now.postmaster_start)
        return {Trust::nothing, "another database or server, or a restart since"};
    const auto then_snap = parse_snapshot(was.snapshot);
    const auto now_snap = parse_snapshot(now.snapshot);
    if (!then_snap || !now_snap) return {Trust::nothing, "unreadable snapshot"};
    // The snapshot's xmax is one past the newest completed transaction id: equal, nothing
    // beyond the stored snapshot completed; of those in progress then, none may have committed.
    if (then_snap->first == now_snap->first && !committed(then_snap->second))
        return {Trust::horizon, "no transaction committed since"};
    if (was.stats_reset != now.stats_reset) return {Trust::nothing, "statistics reset since"};
    if (was.shared_stats_reset != now.shared_stats_reset)
        return {Trust::nothing, "statistics discarded (crash) or reset since"};
    if (!was.track_counts || !now.track_counts) return {Trust::nothing, "track_counts is off"};
    if (now.in_recovery) return {Trust::nothing, "a standby: its statistics miss replayed writes"};
    if (now.busy_sessions > 0)
        return {Trust::nothing,
                fmt::format("{} other session{} may hold unflushed statistics", now.busy_sessions,
                            now.busy_sessions == 1 ? "" : "s"),
                true};
    return {Trust::counters, "statistics counters"};
}

bool must_scan(const Verdict& verdict, const StoredTable* stored, const std::string& oid,
               const std::string& counters) {
    if (verdict.trust == Trust::nothing || !stored || stored->oid != oid) return true;
    if (verdict.trust == Trust::horizon) return false;
    return stored->counters != counters;
}

}  // namespace dolibak::fingerprint::detail
