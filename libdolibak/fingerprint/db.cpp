#include "fingerprint/db_precheck.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/io/hash.hpp>

#include <dolibak/pg/connection.hpp>

#include <fnmatch.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

namespace dolibak::fingerprint {

std::string_view to_string(DbMode mode) noexcept {
    switch (mode) {
        case DbMode::xmin:
            return "xmin";
        case DbMode::content:
            return "content";
        case DbMode::count_tms:
            return "count-tms";
    }
    return "?";
}

DbMode parse_db_mode(std::string_view text) {
    if (text == "xmin") return DbMode::xmin;
    if (text == "content") return DbMode::content;
    if (text == "count-tms" || text == "count_tms") return DbMode::count_tms;
    throw ConfigError("unknown database fingerprint mode '" + std::string(text) +
                      "' (expected xmin, content or count-tms)");
}

namespace {

using pg::Connection;

const char* const system_schemas =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

bool matches_any(const std::vector<std::string>& globs, const std::string& schema,
                 const std::string& name) {
    const std::string qualified = schema + "." + name;
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
        return ::fnmatch(g.c_str(), name.c_str(), 0) == 0 ||
               ::fnmatch(g.c_str(), qualified.c_str(), 0) == 0;
    });
}

// Every row of a query, tab-separated, one per line, into a digest.
void hash_rows(Connection& c, io::Digest& digest, const std::string& sql) {
    auto r = c.exec(sql);
    const int rows = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    // Each value length-prefixed (NULL as "N"): a comment holding a tab or a newline cannot
    // make two different catalogs hash alike.
    for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < cols; ++j) {
            if (PQgetisnull(r.get(), i, j)) {
                digest.update("N");
                continue;
            }
            const auto len = static_cast<std::size_t>(PQgetlength(r.get(), i, j));
            digest.update(std::to_string(len) + ":");
            digest.update(std::string_view(PQgetvalue(r.get(), i, j), len));
        }
        digest.update("\n");
    }
}

// The schema: tables and columns, constraints, indexes, triggers, functions, views,
// sequences (not their values), and what else pg_dump restores with them: owners, privileges,
// comments, row-level security and its policies, schemas, enum and domain types, extensions,
// default privileges; in a stable order.
std::string schema_digest(Connection& c) {
    io::Sha256 d;
    const std::string where = system_schemas;
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, c.relkind::text, a.attname, "
              "format_type(a.atttypid, a.atttypmod), a.attnotnull::text, "
              "pg_get_expr(ad.adbin, ad.adrelid) "
              "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
              "LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum "
              "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND " +
                  where + " ORDER BY 1, 2, a.attnum");
    hash_rows(c, d,
              "SELECT n.nspname, co.conrelid::regclass::text, co.conname, "
              "pg_get_constraintdef(co.oid) FROM pg_constraint co "
              "JOIN pg_namespace n ON n.oid = co.connamespace WHERE " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, i.relname, pg_get_indexdef(i.oid) FROM pg_class i "
              "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE i.relkind IN ('i', 'I') AND " +
                  where + " ORDER BY 1, 2");
    hash_rows(c, d,
              "SELECT n.nspname, t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid), "
              "t.tgenabled::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), "
              "md5(pg_get_functiondef(p.oid)) FROM pg_proc p "
              "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND " +
                  where + " ORDER BY 1, 2");
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement::text "
              "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
                  where + " ORDER BY 1, 2");
    // Owners, privileges, comments and row-level security of relations, then of their columns.
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relacl::text, "
              "obj_description(c.oid, 'pg_class'), c.relrowsecurity::text, "
              "c.relforcerowsecurity::text FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND " +
                  where + " ORDER BY 1, 2");
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, a.attname, col_description(c.oid, a.attnum), "
              "a.attacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
              "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND (a.attacl IS NOT NULL OR "
              "col_description(c.oid, a.attnum) IS NOT NULL) AND " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), "
              "pg_get_userbyid(p.proowner), p.proacl::text, obj_description(p.oid, 'pg_proc') "
              "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
              "WHERE p.prokind IN ('f', 'p', 'a', 'w') AND " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, c.relname, p.polname, p.polcmd::text, p.polpermissive::text, "
              "pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), "
              "ARRAY(SELECT CASE r WHEN 0 THEN 'public' ELSE pg_get_userbyid(r) END "
              "FROM unnest(p.polroles) AS r ORDER BY 1)::text "
              "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
                  where + " ORDER BY 1, 2, 3");
    hash_rows(c, d,
              "SELECT n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text, "
              "obj_description(n.oid, 'pg_namespace') FROM pg_namespace n WHERE " +
                  where + " ORDER BY 1");
    hash_rows(c, d,
              "SELECT n.nspname, t.typname, t.typtype::text, pg_get_userbyid(t.typowner), "
              "t.typacl::text, format_type(t.typbasetype, t.typtypmod), t.typnotnull::text, "
              "t.typdefault, obj_description(t.oid, 'pg_type'), "
              "ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid "
              "ORDER BY e.enumsortorder)::text "
              "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
              "WHERE t.typtype IN ('e', 'd') AND " +
                  where + " ORDER BY 1, 2");
    hash_rows(c, d,
              "SELECT e.extname, e.extversion, n.nspname FROM pg_extension e "
              "JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1");
    hash_rows(c, d,
              "SELECT pg_get_userbyid(a.defaclrole), coalesce(n.nspname, ''), "
              "a.defaclobjtype::text, a.defaclacl::text FROM pg_default_acl a "
              "LEFT JOIN pg_namespace n ON n.oid = a.defaclnamespace ORDER BY 1, 2, 3");
    return d.hex();
}

// An order-independent hash of a multiset of rows: the sum, lane by lane (mod 2^64), of each
// row's SHA-256. Equal multisets give equal sums whatever the physical order of the rows.
class MultisetHash {
public:
    void add(std::string_view row) {
        const std::string h = io::sha256_bytes(row);
        for (std::size_t lane = 0; lane < lanes_.size(); ++lane) {
            std::uint64_t v = 0;
            std::memcpy(&v, h.data() + lane * 8, 8);
            lanes_[lane] += v;
        }
        ++count_;
    }
    std::uint64_t count() const noexcept { return count_; }
    std::string hex() const {
        return io::to_hex(
            io::Bytes(reinterpret_cast<const std::byte*>(lanes_.data()), sizeof lanes_));
    }

private:
    std::array<std::uint64_t, 4> lanes_{};
    std::uint64_t count_ = 0;
};

TableFingerprint content_of(Connection& c, const std::string& schema, const std::string& name) {
    const std::string qualified = c.quote_ident(schema) + "." + c.quote_ident(name);
    pg::Result r(
        PQexec(c.get(), ("COPY (SELECT * FROM ONLY " + qualified + ") TO STDOUT").c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_OUT)
        throw DatabaseError("COPY of " + schema + "." + name +
                            " did not start: " + PQerrorMessage(c.get()));
    MultisetHash h;
    for (;;) {
        char* buf = nullptr;
        const int n = PQgetCopyData(c.get(), &buf, 0);
        if (n == -1) break;
        if (n < 0)
            throw DatabaseError("COPY of " + schema + "." + name +
                                " failed: " + PQerrorMessage(c.get()));
        h.add(std::string_view(buf, static_cast<std::size_t>(n)));
        PQfreemem(buf);
    }
    pg::Result end(PQgetResult(c.get()));
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK)
        throw DatabaseError("COPY of " + schema + "." + name +
                            " failed: " + PQresultErrorMessage(end.get()));
    while (auto* extra = PQgetResult(c.get())) PQclear(extra);
    return {schema, name, h.count(), h.hex()};
}

TableFingerprint xmin_of(Connection& c, const std::string& schema, const std::string& name) {
    const std::string qualified = c.quote_ident(schema) + "." + c.quote_ident(name);
    // xmin of every row version: a committed write always gives a transaction id newer than
    // every existing one, so count + sum changes with any insert, update or delete; the hash
    // sum guards against transaction-id wraparound.
    auto r = c.exec(
        "SELECT count(*), coalesce(sum(xmin::text::numeric), 0), "
        "coalesce(sum(hashtext(xmin::text)::numeric), 0) FROM ONLY " +
        qualified);
    const std::string rows = PQgetvalue(r.get(), 0, 0);
    const std::string digest =
        io::sha256_hex(std::string(PQgetvalue(r.get(), 0, 1)) + "/" + PQgetvalue(r.get(), 0, 2));
    return {schema, name, std::stoull(rows), digest};
}

TableFingerprint count_tms_of(Connection& c, const std::string& schema, const std::string& name,
                              const std::string& column) {
    const std::string qualified = c.quote_ident(schema) + "." + c.quote_ident(name);
    auto r = c.exec("SELECT count(*), coalesce(max(" + c.quote_ident(column) +
                    ")::text, '') FROM ONLY " + qualified);
    return {schema, name, std::stoull(PQgetvalue(r.get(), 0, 0)),
            io::sha256_hex(PQgetvalue(r.get(), 0, 1))};
}

// What the stored digests depend on besides the data: a state taken with other options
// (mode, tables included or left out) is not reused.
std::string options_digest(const DbOptions& o) {
    std::string text =
        "dolibak-db-precheck-1\n" + std::string(to_string(o.mode)) + "\n" + o.change_column + "\n";
    for (const auto& g : o.include_tables) text += "+" + g + "\n";
    for (const auto& g : o.exclude_tables) text += "-" + g + "\n";
    return io::sha256_hex(text);
}

}  // namespace

std::string TableFingerprint::line_digest() const {
    return io::sha256_hex(std::to_string(rows) + "\t" + digest);
}

std::vector<std::string> DbFingerprint::differences(const DbFingerprint& other) const {
    std::vector<std::string> out;
    if (schema_digest != other.schema_digest) out.emplace_back("(schema)");
    std::map<std::string, const TableFingerprint*> mine, theirs;
    for (const auto& t : tables) mine[t.schema + "." + t.name] = &t;
    for (const auto& t : other.tables) theirs[t.schema + "." + t.name] = &t;
    for (const auto& [name, t] : mine) {
        auto it = theirs.find(name);
        if (it == theirs.end() || it->second->rows != t->rows || it->second->digest != t->digest)
            out.push_back(name);
    }
    for (const auto& [name, t] : theirs)
        if (!mine.count(name)) out.push_back(name);
    return out;
}

DbFingerprint fingerprint_database(const pgdump::ConnectionParams& params,
                                   const DbOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    Connection c(params);
    // The pre-check's signals are read before the snapshot (db_precheck.hpp): a change they
    // show committed is visible to the snapshot too.
    auto signals = detail::read_signals(c);
    const std::string options_id = options_digest(options);
    std::optional<detail::PrecheckState> stored;
    if (options.precheck && !options.previous_state.empty())
        stored = detail::PrecheckState::from_json(options.previous_state);
    detail::Verdict verdict;
    if (!options.precheck)
        verdict.reason = "pre-check off";
    else if (!options.previous_state.empty() && !stored)
        verdict.reason = "stored pre-check state unreadable";
    else
        for (int attempt = 0;; ++attempt) {
            verdict = detail::judge(stored, options_id, signals, [&c](const auto& xids) {
                return detail::any_committed(c, xids);
            });
            if (!verdict.sessions_busy || attempt == detail::busy_retries) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(detail::busy_retry_ms));
            signals = detail::read_signals(c);
        }
    detail::PrecheckState next;
    next.options = options_id;
    next.server = signals;
    next.server.counters.clear();

    // Never assigns a transaction id (READ ONLY): the fingerprint moves no horizon.
    c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // Whoever imports this snapshot reads the state this fingerprint describes: a change the
    // signals above show is in both, one committed after is in neither.
    if (options.share_snapshot) {
        auto r = c.exec("SELECT pg_export_snapshot()");
        options.share_snapshot(PQgetvalue(r.get(), 0, 0));
    }
    DbFingerprint fp;
    fp.mode = options.mode;
    fp.precheck = verdict.reason;

    std::string sql =
        "SELECT n.nspname, c.relname, c.oid::text, "
        "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attname = " +
        c.quote_literal(options.change_column) +
        ")::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND " +
        std::string(system_schemas) + " ORDER BY 1, 2";
    auto tables = c.exec(sql);
    for (int i = 0; i < PQntuples(tables.get()); ++i) {
        const std::string schema = PQgetvalue(tables.get(), i, 0);
        const std::string name = PQgetvalue(tables.get(), i, 1);
        const std::string oid = PQgetvalue(tables.get(), i, 2);
        const bool has_change_column = std::string(PQgetvalue(tables.get(), i, 3)) == "true";
        if (!options.include_tables.empty() && !matches_any(options.include_tables, schema, name))
            continue;
        if (matches_any(options.exclude_tables, schema, name)) {
            fp.excluded.push_back(schema + "." + name);
            continue;
        }
        if (options.mode == DbMode::count_tms && !has_change_column) continue;
        const std::string qualified = schema + "." + name;
        const auto counted = signals.counters.find(oid);
        const std::string counters = counted == signals.counters.end() ? "" : counted->second;
        const detail::StoredTable* was = nullptr;
        if (stored) {
            const auto it = stored->tables.find(qualified);
            if (it != stored->tables.end()) was = &it->second;
        }
        if (!detail::must_scan(verdict, was, oid, counters)) {
            fp.tables.push_back({schema, name, was->rows, was->digest});
        } else {
            ++fp.scanned;
            switch (options.mode) {
                case DbMode::xmin:
                    fp.tables.push_back(xmin_of(c, schema, name));
                    break;
                case DbMode::content:
                    fp.tables.push_back(content_of(c, schema, name));
                    break;
                case DbMode::count_tms:
                    fp.tables.push_back(count_tms_of(c, schema, name, options.change_column));
                    break;
            }
        }
        next.tables.emplace(qualified, detail::StoredTable{oid, counters, fp.tables.back().rows,
                                                           fp.tables.back().digest});
    }
    // No transaction committed since the stored state and every stored table, and only those,
    // reused: the schema is the stored one too. Otherwise it is read (in the same snapshot).
    const bool all_reused = verdict.trust == detail::Trust::horizon && fp.scanned == 0 && stored &&
                            stored->tables.size() == fp.tables.size() &&
                            !stored->schema_digest.empty();
    fp.schema_digest = all_reused ? stored->schema_digest : schema_digest(c);
    if (options.share_snapshot && options.before_release) options.before_release();
    c.exec("COMMIT");
    next.schema_digest = fp.schema_digest;
    fp.state = next.to_json();

    io::Sha256 total;
    total.update("dolibak-db-fingerprint-1\n");
    total.update(to_string(options.mode));
    total.update("\n" + fp.schema_digest + "\n");
    for (const auto& t : fp.tables)
        total.update(t.schema + "." + t.name + "\t" + std::to_string(t.rows) + "\t" + t.digest +
                     "\n");
    fp.value = total.hex();
    fp.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return fp;
}

}  // namespace dolibak::fingerprint
