#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/pgdump/toc_filter.hpp>
#include <dolibak/process/process.hpp>

#include <dolibak/pg/client_env.hpp>
#include <dolibak/pg/connection.hpp>

#include <libpq-fe.h>

#include <fmt/core.h>

#include <fcntl.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace dolibak::pgdump {

namespace {

const char* const user_schemas_sql =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp%'";

// A temp file removed when the object dies.
struct TempFile {
    std::filesystem::path path;
    ~TempFile() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove(path, ec);
    }
};

// Lets the caller read the first bytes and then reads on from the start.
class Prefixed final : public io::Source {
public:
    Prefixed(std::vector<std::byte> p, io::Source& rest) : prefix_(std::move(p)), rest_(rest) {}
    std::size_t read(io::MutableBytes buf) override {
        if (pos_ < prefix_.size()) {
            const std::size_t n = std::min(buf.size(), prefix_.size() - pos_);
            std::memcpy(buf.data(), prefix_.data() + pos_, n);
            pos_ += n;
            return n;
        }
        return rest_.read(buf);
    }

private:
    std::vector<std::byte> prefix_;
    std::size_t pos_ = 0;
    io::Source& rest_;
};

// The oldest pg_restore that reads archives of this format version (pg_restore refuses a
// newer version than its own: "unsupported version (1.15) in file header").
int pg_restore_major_needed(const ArchiveHeader& h) {
    if (h.version_minor >= 16) return 17;  // 1.16: pg_dump 17 (relkind, large-object groups)
    if (h.version_minor == 15) return 16;  // 1.15: pg_dump 16 (compression algorithm)
    return 0;                              // every pg_restore dolibak runs reads the older ones
}

std::string last_lines(const std::string& s, std::size_t max_chars = 2000) {
    if (s.size() <= max_chars) return s;
    return "..." + s.substr(s.size() - max_chars);
}

// Each table's exact row count (`count(*) FROM ONLY`), over `connections` connections at
// once (the first one is `first`), the tables dealt largest first (by `weight`, their bytes
// in the archive) to the least loaded connection, each connection's counted in batches of
// one statement: a round trip per table cost as much as the scan of a small one.
std::vector<std::uint64_t> count_rows(
    const ConnectionParams& conn, pg::Connection& first,
    const std::vector<std::pair<std::string, std::string>>& tables,
    const std::vector<std::uint64_t>& weight, int connections) {
    const std::size_t workers =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(1, connections)),
                              std::max<std::size_t>(1, tables.size()));
    std::vector<std::size_t> order(tables.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return weight[a] > weight[b]; });
    std::vector<std::vector<std::size_t>> share(workers);
    std::vector<std::uint64_t> load(workers, 0);
    for (const std::size_t i : order) {
        const auto w =
            static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        share[w].push_back(i);
        load[w] += weight[i] + 1;
    }
    std::vector<std::uint64_t> counts(tables.size(), 0);
    std::vector<char> seen(tables.size(), 0);  // each worker writes only its own tables
    const auto run = [&](pg::Connection& c, const std::vector<std::size_t>& mine) {
        constexpr std::size_t batch = 64;
        for (std::size_t at = 0; at < mine.size(); at += batch) {
            std::string sql;
            const std::size_t end = std::min(mine.size(), at + batch);
            for (std::size_t k = at; k < end; ++k) {
                const auto& [schema, name] = tables[mine[k]];
                if (!sql.empty()) sql += " UNION ALL ";
                sql += fmt::format("SELECT {}, count(*) FROM ONLY {}.{}", mine[k],
                                   c.quote_ident(schema), c.quote_ident(name));
            }
            auto r = c.exec(sql);
            if (PQntuples(r.get()) != static_cast<int>(end - at))
                throw DatabaseError(fmt::format("counting rows in {}: {} results for {} tables",
                                                conn.describe(), PQntuples(r.get()), end - at));
            for (int row = 0; row < PQntuples(r.get()); ++row) {
                const auto i = static_cast<std::size_t>(std::stoull(PQgetvalue(r.get(), row, 0)));
                if (i >= tables.size() || seen[i])
                    throw DatabaseError("counting rows in " + conn.describe() +
                                        ": an unexpected result row");
                seen[i] = 1;
                counts[i] = std::stoull(PQgetvalue(r.get(), row, 1));
            }
        }
    };
    std::vector<std::exception_ptr> failed(workers);
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w)
        threads.emplace_back([&, w] {
            try {
                pg::Connection c(conn);
                run(c, share[w]);
            } catch (...) {
                failed[w] = std::current_exception();
            }
        });
    try {
        run(first, share[0]);
    } catch (...) {
        failed[0] = std::current_exception();
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failed)
        if (f) std::rethrow_exception(f);
    for (const char x : seen)
        if (!x)
            throw DatabaseError("counting rows in " + conn.describe() + ": a table not counted");
    return counts;
}

}  // namespace

std::size_t RestoreReport::rows_matched() const noexcept {
    std::size_t n = 0;
    for (const auto& t : tables)
        if (t.expected_rows && t.actual_rows && *t.expected_rows == *t.actual_rows) ++n;
    return n;
}

std::size_t RestoreReport::present_only() const noexcept {
    std::size_t n = 0;
    for (const auto& t : tables)
        if (!t.expected_rows && t.actual_rows) ++n;
    return n;
}

int count_user_objects(const ConnectionParams& conn) {
    pg::Connection c(conn);
    const std::string n1 =
        c.scalar(std::string("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                             "c.relnamespace WHERE ") +
                 user_schemas_sql);
    const std::string n2 = c.scalar("SELECT count(*) FROM pg_largeobject_metadata");
    return std::stoi(n1) + std::stoi(n2);
}

void take_safety_dump(const ConnectionParams& conn, const PgTools& tools,
                      const std::filesystem::path& path) {
    // The name is taken first (O_EXCL), then the dump is renamed over that empty file: an
    // existing file is never replaced, even one that appears meanwhile.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            throw ConfigError("the safety dump " + path.string() +
                              " already exists: a safety dump never replaces a file; give "
                              "another name");
        throw IoError("cannot create the safety dump", path.string(), errno);
    }
    ::close(fd);
    struct Reserved {
        const std::filesystem::path& path;
        bool keep = false;
        ~Reserved() {
            if (!keep) ::unlink(path.c_str());
        }
    } reserved{path};
    DumpOptions d;
    d.conn = conn;
    d.tools = tools;
    io::AtomicFileSink out(path, 0600);
    dump(d, out);  // finishes (renames over the reserved name) or aborts the sink
    reserved.keep = true;
}

RestoreReport prove_restored(const ConnectionParams& conn, const ArchiveSummary& archive,
                             const ProofOptions& proof, const std::vector<int>* only_ids,
                             int connections) {
    RestoreReport rep;
    rep.archive = archive;
    pg::Connection c(conn);
    // Tables present: schema.name -> oid.
    auto r = c.exec(
        std::string("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                    "c.relnamespace WHERE c.relkind IN ('r', 'p') AND ") +
        user_schemas_sql);
    std::set<std::pair<std::string, std::string>> present;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        present.emplace(PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1));
    rep.pattern_tables = std::stoi(
        c.scalar(std::string("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid "
                             "= c.relnamespace WHERE c.relkind IN ('r', 'p') AND ") +
                 user_schemas_sql + " AND c.relname LIKE " + c.quote_literal(proof.pattern())));
    std::set<int> wanted;
    if (only_ids) wanted.insert(only_ids->begin(), only_ids->end());
    const auto kept = [&](int dump_id) { return !only_ids || wanted.count(dump_id) > 0; };
    std::vector<std::string> diffs;
    // What the archive holds for the kept entries: each table whose data is kept, with its
    // rows; each table kept without its data, present. A restore that keeps none of the
    // archive's tables proves nothing: it fails.
    std::set<std::pair<std::string, std::string>> with_data;
    std::size_t archive_tables = 0, kept_tables = 0;
    for (const auto& e : archive.entries) {
        if (e.desc != "TABLE") continue;
        ++archive_tables;
        if (kept(e.dump_id)) ++kept_tables;
    }
    for (const auto& t : archive.tables) {
        if (!kept(t.dump_id)) continue;
        with_data.emplace(t.schema, t.name);
    }
    if (archive_tables + archive.tables.size() > 0 && kept_tables + with_data.size() == 0)
        diffs.push_back(
            fmt::format("the exclusions leave none of the archive's {}: "
                        "nothing restored, nothing to prove",
                        count_noun(std::max(archive_tables, archive.tables.size()), "table")));
    // The tables to check, in the report's order (tables kept without data or without a
    // row count, then those with data); the present ones are counted, all at once below.
    std::vector<TableCheck> checks;
    std::vector<std::pair<std::string, std::string>> to_count;
    std::vector<std::uint64_t> weight;
    std::vector<std::size_t> counted_as;  // checks[i] -> its index in to_count, or npos
    const auto add = [&](TableCheck tc, std::uint64_t bytes) {
        if (present.count({tc.schema, tc.name})) {
            counted_as.push_back(to_count.size());
            to_count.emplace_back(tc.schema, tc.name);
            weight.push_back(bytes);
        } else {
            counted_as.push_back(std::string::npos);
        }
        checks.push_back(std::move(tc));
    };
    for (const auto& e : archive.entries) {
        if (e.desc != "TABLE" || !kept(e.dump_id) || with_data.count({e.schema, e.tag})) continue;
        add(TableCheck{e.schema, e.tag, std::nullopt, std::nullopt}, 0);
    }
    const std::size_t without_data = checks.size();
    for (const auto& t : archive.tables) {
        if (!kept(t.dump_id)) continue;
        add(TableCheck{t.schema, t.name, t.rows, std::nullopt}, t.bytes);
    }
    const auto counts = count_rows(conn, c, to_count, weight, connections);
    for (std::size_t i = 0; i < checks.size(); ++i) {
        auto& tc = checks[i];
        if (counted_as[i] != std::string::npos) tc.actual_rows = counts[counted_as[i]];
        if (i < without_data) {
            if (!tc.actual_rows)
                diffs.push_back(
                    fmt::format("table {}.{} is missing from the database", tc.schema, tc.name));
        } else if (!tc.actual_rows) {
            diffs.push_back(fmt::format(
                "table {}.{} is missing from the database ({} rows in the archive)", tc.schema,
                tc.name, tc.expected_rows ? std::to_string(*tc.expected_rows) : std::string("?")));
        } else if (tc.expected_rows && *tc.expected_rows != *tc.actual_rows) {
            diffs.push_back(fmt::format("table {}.{}: {} rows in the archive, {} in the database",
                                        tc.schema, tc.name, *tc.expected_rows, *tc.actual_rows));
        }
    }
    rep.tables = std::move(checks);
    // Large objects: a filtered restore may leave them out; otherwise each one the archive
    // holds is there (a --clean restore over a database may keep others of its own).
    if (!only_ids && archive.large_objects > 0) {
        const auto n = std::stoull(c.scalar("SELECT count(*) FROM pg_largeobject_metadata"));
        if (n < archive.large_objects)
            diffs.push_back(fmt::format("{} in the archive, {} in the database",
                                        count_noun(archive.large_objects, "large object"), n));
    }
    if (rep.pattern_tables < proof.minimum())
        diffs.push_back(fmt::format("only {} tables match {} in the database, at least {} expected",
                                    rep.pattern_tables, proof.pattern(), proof.minimum()));
    if (!diffs.empty())
        throw VerificationError(
            fmt::format("restored database {} does not match the archive: {}: {}", conn.describe(),
                        count_noun(diffs.size(), "difference"), diffs.front()),
            diffs);
    return rep;
}

RestoreReport restore(io::Source& archive_in, const RestoreOptions& o) {
    // The database must be named; the host and the user may be left to libpq's defaults
    // (PGHOST, PGUSER, the default socket, the system user), as for any libpq client.
    if (o.target.dbname.empty()) throw ConfigError("restore needs the name of the target database");
    if (o.jobs < 1) throw ConfigError("restore jobs must be at least 1");
    if (!o.confirm_non_empty) {
        const int n = count_user_objects(o.target);
        if (n > 0)
            throw ConfigError(
                fmt::format("refusing to restore into {}: it is not empty ({} relations or large "
                            "objects); confirm explicitly to restore over it",
                            o.target.describe(), n));
    }
    if (o.safety_dump && std::filesystem::exists(std::filesystem::symlink_status(*o.safety_dump)))
        throw ConfigError("the safety dump " + o.safety_dump->string() +
                          " already exists: a safety dump never replaces a file; give another "
                          "name");
    const int server = server_version_num(o.target);
    const PgTools tools = o.tools ? *o.tools : find_tools(server / 10000, o.tools_dir);

    // Transparent zstd: look at the magic.
    std::vector<std::byte> head(4);
    head.resize(io::read_full(archive_in, head));
    const bool zst = io::is_zstd(head);
    Prefixed raw(std::move(head), archive_in);
    std::unique_ptr<io::ZstdSource> unz;
    io::Source* plain = &raw;
    if (zst) {
        unz = std::make_unique<io::ZstdSource>(raw);
        plain = unz.get();
    }
    // Read the archive's header before pg_restore starts: an archive newer than pg_restore
    // fails here, naming the version it needs. A damaged head is left to the verifier below.
    // With a recorded summary, read on to the end of the TOC (a few MiB at most, replayed
    // below): whether the summary describes exactly the archive's tables decides how the
    // blocks are read.
    std::vector<std::byte> header_bytes;
    std::optional<RecordedCounts> recorded;
    {
        ReaderOptions head_options;
        head_options.inflate_data = false;
        ArchiveReader head_reader(head_options);
        const bool want_toc = o.recorded_summary.has_value();
        const std::size_t limit = want_toc ? (std::size_t{512} << 20) : (std::size_t{1} << 20);
        const auto read_enough = [&] {
            return want_toc ? head_reader.toc_done() : head_reader.header_done();
        };
        std::vector<std::byte> chunk(64 * 1024);
        while (!read_enough() && !head_reader.failed() && header_bytes.size() < limit) {
            const std::size_t n = plain->read(chunk);
            if (n == 0) break;
            header_bytes.insert(header_bytes.end(), chunk.begin(),
                                chunk.begin() + static_cast<std::ptrdiff_t>(n));
            head_reader.update(io::Bytes(chunk.data(), n));
        }
        if (head_reader.header_done()) {
            const auto& h = head_reader.summary().header;
            const int needed = pg_restore_major_needed(h);
            if (tools.major < needed)
                throw ConfigError(fmt::format(
                    "the archive is in format {} (made by pg_dump {}), which needs pg_restore {} "
                    "or later; the pg_restore for the target's server (PostgreSQL {}) is {} "
                    "({}): restore into a PostgreSQL {} or later server",
                    h.version_string(), h.pg_dump_version, needed, server / 10000, tools.version,
                    tools.pg_restore.string(), needed));
        }
        if (want_toc && head_reader.toc_done() && !head_reader.failed())
            recorded = recorded_counts(head_reader.summary(), *o.recorded_summary);
    }
    Prefixed replayed(std::move(header_bytes), *plain);
    io::Source* src = &replayed;

    std::optional<std::filesystem::path> safety_dump;
    if (o.safety_dump) {
        take_safety_dump(o.target, tools, *o.safety_dump);
        safety_dump = o.safety_dump;
    }

    std::vector<std::string> argv{tools.pg_restore.string(), "--no-password", "--exit-on-error"};
    if (o.no_owner) argv.emplace_back("--no-owner");
    if (o.no_privileges) argv.emplace_back("--no-privileges");
    if (o.role) argv.push_back("--role=" + *o.role);
    if (o.clean) {
        argv.emplace_back("--clean");
        argv.emplace_back("--if-exists");
    }
    if (o.single_transaction && o.jobs == 1) argv.emplace_back("--single-transaction");
    if (o.jobs > 1) argv.push_back(fmt::format("--jobs={}", o.jobs));
    if (!o.target.host.empty()) argv.push_back("--host=" + o.target.host);
    argv.push_back(fmt::format("--port={}", o.target.port));
    if (!o.target.user.empty()) argv.push_back("--username=" + o.target.user);
    argv.push_back("--dbname=" + o.target.dbname);

    TempFile list_file, spool;
    const auto tmp = o.temp_dir.empty() ? std::filesystem::temp_directory_path() : o.temp_dir;
    const auto unique = [&](const char* what) {
        return tmp / fmt::format("dolibak-{}-{}-{}", what, ::getpid(), std::random_device{}());
    };
    if (o.list) {
        list_file.path = unique("list");
        io::AtomicFileSink ls(list_file.path, 0600);
        io::write(ls, *o.list);
        ls.finish();
        argv.push_back("--use-list=" + list_file.path.string());
    }

    // Bytes proven equal to bytes once read whole need their structure walked, not their
    // blocks inflated again: the counts come from the manifest (docs/pgdump.md).
    ReaderOptions reader_options;
    reader_options.inflate_data = !recorded;
    ArchiveReader reader(reader_options);
    RestoreReport rep;
    process::ProcessOptions po;
    // pg_restore's environment: its libpq settings and a password file, nothing of ours.
    const pg::ClientEnvironment client_env(o.target, o.temp_dir);
    po.env = client_env.vars();
    po.inherit_fds = client_env.inherit_fds();  // the password file, if in memory
    po.out = process::Stdio::null;
    po.err = process::Stdio::capture;
    std::vector<std::byte> buf(io::default_buffer_size);
    // Reads the whole archive through the verifier; writes it to `to` while `to` accepts it
    // (a pg_restore that failed stops reading: the rest is still verified).
    auto feed = [&](io::Sink& to, bool tolerate_closed) {
        bool writing = true;
        for (;;) {
            const std::size_t n = src->read(buf);
            if (n == 0) break;
            const io::Bytes chunk(buf.data(), n);
            reader.update(chunk);
            if (reader.failed()) break;
            if (!writing) continue;
            try {
                to.write(chunk);
            } catch (const IoError&) {
                if (!tolerate_closed) throw;
                writing = false;
            }
        }
        reader.finish();
        return writing;
    };
    process::ExitStatus st;
    if (o.jobs > 1) {
        // pg_restore -j needs a seekable file: the archive is spooled to a scratch file, read
        // back at once and removed after (not synced: an AtomicFileSink's fsyncs of the file
        // and its directory only delayed pg_restore's start). The source's own check (the
        // object's digest) ends with the spool. With a recorded summary the archive's check
        // is its structure walked while the spool is written (cheap: no block is inflated),
        // so everything is checked before pg_restore starts. Without one, the archive's check
        // (every block inflated, rows counted for the proof) runs over the spool while
        // pg_restore restores, when the target holds nothing of its own: the restore fails
        // when either fails, and nothing is trusted before both ended. Into a database that
        // holds objects (a restore over it), the archive is checked whole before pg_restore
        // starts: a bad archive never touches it.
        const bool check_first =
            recorded || (o.confirm_non_empty && count_user_objects(o.target) > 0);
        spool.path = unique("spool");
        {
            io::UniqueFd fd(
                ::open(spool.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
            if (!fd) {
                const int err = errno;
                const std::string name = spool.path.string();
                spool.path.clear();  // not ours: another file of that name is left alone
                throw IoError("cannot create the restore spool", name, err);
            }
            io::FdSink out(std::move(fd), spool.path.string());
            if (check_first) {
                feed(out, false);
                reader.check();
            } else {
                for (;;) {
                    const std::size_t n = src->read(buf);
                    if (n == 0) break;
                    out.write(io::Bytes(buf.data(), n));
                }
            }
            out.finish();
        }
        argv.push_back(spool.path.string());
        po.argv = argv;
        po.in = process::Stdio::null;
        process::Process p(std::move(po));
        if (!check_first) {
            try {
                io::FileSource back(spool.path);
                for (;;) {
                    const std::size_t n = back.read(buf);
                    if (n == 0) break;
                    reader.update(io::Bytes(buf.data(), n));
                    if (reader.failed()) break;
                }
                reader.finish();
                if (reader.failed()) p.kill(SIGKILL);  // a bad archive: stop restoring it
            } catch (...) {
                p.kill(SIGKILL);
                p.wait();
                throw;
            }
        }
        st = p.wait();
        rep.pg_restore_stderr = p.stderr_tail();
        reader.check();
    } else {
        po.argv = argv;
        po.in = process::Stdio::pipe;
        process::Process p(std::move(po));
        try {
            const bool all_written = feed(p.in(), true);
            if (reader.failed() || !all_written)
                p.in().abort();
            else
                p.in().finish();
        } catch (...) {
            p.in().abort();
            p.kill(SIGKILL);
            p.wait();
            throw;
        }
        st = p.wait();
        rep.pg_restore_stderr = p.stderr_tail();
        reader.check();
    }
    rep.pg_restore_exit = st.code;
    rep.safety_dump = safety_dump;
    ArchiveSummary summary = reader.summary();
    std::vector<std::string> diffs;
    if (recorded) {
        // The structure walked gives the large objects; the manifest must agree.
        if (recorded->large_objects != summary.large_objects)
            diffs.push_back(fmt::format("the archive holds {}, the manifest's summary records {}",
                                        count_noun(summary.large_objects, "large object"),
                                        recorded->large_objects));
        summary.tables = std::move(recorded->tables);
        summary.data_bytes = recorded->data_bytes;
    }

    std::vector<int> ids;
    if (o.list) ids = list_ids(*o.list);
    if (!st.success())
        diffs.push_back(
            fmt::format("pg_restore {}: {}", st.describe(), last_lines(rep.pg_restore_stderr)));
    try {
        auto proved = prove_restored(o.target, summary, o.proof, o.list ? &ids : nullptr, o.jobs);
        proved.pg_restore_exit = rep.pg_restore_exit;
        proved.pg_restore_stderr = rep.pg_restore_stderr;
        proved.safety_dump = rep.safety_dump;
        proved.recorded_counts = recorded.has_value();
        rep = std::move(proved);
    } catch (const VerificationError& e) {
        for (const auto& d : e.differences()) diffs.push_back(d);
    }
    if (!diffs.empty())
        throw VerificationError(
            fmt::format("restore into {} failed verification: {}: {}", o.target.describe(),
                        count_noun(diffs.size(), "difference"), diffs.front()),
            diffs);
    return rep;
}

RestoreReport reset_sandbox(io::Source& archive, RestoreOptions o) {
    {
        pg::Connection c(o.target);
        c.exec("DROP OWNED BY " + c.quote_ident(o.target.user) + " CASCADE");
    }
    o.confirm_non_empty = true;
    o.no_owner = true;
    o.role.reset();
    return restore(archive, o);
}

}  // namespace dolibak::pgdump
