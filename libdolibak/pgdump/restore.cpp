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

#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>

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
                             const ProofOptions& proof, const std::vector<int>* only_ids) {
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
    for (const auto& e : archive.entries) {
        if (e.desc != "TABLE" || !kept(e.dump_id) || with_data.count({e.schema, e.tag})) continue;
        TableCheck tc{e.schema, e.tag, std::nullopt, std::nullopt};
        if (present.count({e.schema, e.tag}))
            tc.actual_rows =
                std::stoull(c.scalar("SELECT count(*) FROM ONLY " + c.quote_ident(e.schema) + "." +
                                     c.quote_ident(e.tag)));
        else
            diffs.push_back(
                fmt::format("table {}.{} is missing from the database", e.schema, e.tag));
        rep.tables.push_back(std::move(tc));
    }
    for (const auto& t : archive.tables) {
        if (!kept(t.dump_id)) continue;
        TableCheck tc{t.schema, t.name, t.rows, std::nullopt};
        if (present.count({t.schema, t.name})) {
            tc.actual_rows =
                std::stoull(c.scalar("SELECT count(*) FROM ONLY " + c.quote_ident(t.schema) + "." +
                                     c.quote_ident(t.name)));
            if (t.rows && *t.rows != *tc.actual_rows)
                diffs.push_back(
                    fmt::format("table {}.{}: {} rows in the archive, {} in the database", t.schema,
                                t.name, *t.rows, *tc.actual_rows));
        } else {
            diffs.push_back(
                fmt::format("table {}.{} is missing from the database ({} rows in the archive)",
                            t.schema, t.name, t.rows ? std::to_string(*t.rows) : std::string("?")));
        }
        rep.tables.push_back(std::move(tc));
    }
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
    std::vector<std::byte> header_bytes;
    {
        ArchiveReader head_reader;
        std::vector<std::byte> chunk(64 * 1024);
        while (!head_reader.header_done() && !head_reader.failed() &&
               header_bytes.size() < (std::size_t{1} << 20)) {
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

    ArchiveReader reader;
    RestoreReport rep;
    process::ProcessOptions po;
    // pg_restore's environment: its libpq settings and a password file, nothing of ours.
    const pg::ClientEnvironment client_env(o.target, o.temp_dir);
    po.env = client_env.vars();
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
        // object's digest) ends with the spool. The archive's check (every block inflated,
        // rows counted for the proof) then runs over the spool while pg_restore restores, when
        // the target holds nothing of its own: the restore fails when either fails, and
        // nothing is trusted before both ended. Into a database that holds objects (a restore
        // over it), the archive is checked whole before pg_restore starts: a bad archive never
        // touches it.
        const bool check_first = o.confirm_non_empty && count_user_objects(o.target) > 0;
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
    const ArchiveSummary& summary = reader.summary();

    std::vector<int> ids;
    if (o.list) ids = list_ids(*o.list);
    std::vector<std::string> diffs;
    if (!st.success())
        diffs.push_back(
            fmt::format("pg_restore {}: {}", st.describe(), last_lines(rep.pg_restore_stderr)));
    try {
        auto proved = prove_restored(o.target, summary, o.proof, o.list ? &ids : nullptr);
        proved.pg_restore_exit = rep.pg_restore_exit;
        proved.pg_restore_stderr = rep.pg_restore_stderr;
        proved.safety_dump = rep.safety_dump;
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
