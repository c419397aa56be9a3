#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/pgdump/toc_filter.hpp>
#include <dolibak/process/process.hpp>

#include <dolibak/pg/connection.hpp>

#include <libpq-fe.h>

#include <fmt/core.h>

#include <fcntl.h>
#include <unistd.h>
#include <csignal>

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

std::string last_lines(const std::string& s, std::size_t max_chars = 2000) {
    if (s.size() <= max_chars) return s;
    return "..." + s.substr(s.size() - max_chars);
}

}  // namespace

int count_user_objects(const ConnectionParams& conn) {
    pg::Connection c(conn);
    const std::string n1 =
        c.scalar(std::string("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                             "c.relnamespace WHERE ") +
                 user_schemas_sql);
    const std::string n2 = c.scalar("SELECT count(*) FROM pg_largeobject_metadata");
    return std::stoi(n1) + std::stoi(n2);
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
    std::vector<std::string> diffs;
    for (const auto& t : archive.tables) {
        if (only_ids && !wanted.count(t.dump_id)) continue;
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
            diffs.push_back(fmt::format("{} large object(s) in the archive, {} in the database",
                                        archive.large_objects, n));
    }
    if (rep.pattern_tables < proof.minimum())
        diffs.push_back(fmt::format("only {} tables match {} in the database, at least {} expected",
                                    rep.pattern_tables, proof.pattern(), proof.minimum()));
    if (!diffs.empty())
        throw VerificationError(
            fmt::format("restored database {} does not match the archive: {} difference(s): {}",
                        conn.describe(), diffs.size(), diffs.front()),
            diffs);
    return rep;
}

RestoreReport restore(io::Source& archive_in, const RestoreOptions& o) {
    if (o.target.dbname.empty() || o.target.user.empty() || o.target.host.empty())
        throw ConfigError("restore needs an explicit host, user and database name");
    if (o.jobs < 1) throw ConfigError("restore jobs must be at least 1");
    if (!o.confirm_non_empty) {
        const int n = count_user_objects(o.target);
        if (n > 0)
            throw ConfigError(
                fmt::format("refusing to restore into {}: it is not empty ({} relations or large "
                            "objects); confirm explicitly to restore over it",
                            o.target.describe(), n));
    }
    const int server = server_version_num(o.target);
    const PgTools tools = o.tools ? *o.tools : find_tools(server / 10000, o.tools_dir);

    if (o.safety_dump) {
        DumpOptions d;
        d.conn = o.target;
        d.tools = tools;
        io::AtomicFileSink out(*o.safety_dump, 0600);
        dump(d, out);
    }

    // Transparent zstd: look at the magic.
    std::vector<std::byte> head(4);
    head.resize(io::read_full(archive_in, head));
    const bool zst = io::is_zstd(head);
    Prefixed raw(std::move(head), archive_in);
    std::unique_ptr<io::ZstdSource> unz;
    io::Source* src = &raw;
    if (zst) {
        unz = std::make_unique<io::ZstdSource>(raw);
        src = unz.get();
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
    argv.push_back("--host=" + o.target.host);
    argv.push_back(fmt::format("--port={}", o.target.port));
    argv.push_back("--username=" + o.target.user);
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
    po.env = o.target.env();
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
        // pg_restore -j needs a seekable file: spool the (verified) archive first.
        spool.path = unique("spool");
        {
            io::AtomicFileSink out(spool.path, 0600);
            feed(out, false);
            reader.check();
            out.finish();
        }
        argv.push_back(spool.path.string());
        po.argv = argv;
        po.in = process::Stdio::null;
        process::Process p(std::move(po));
        st = p.wait();
        rep.pg_restore_stderr = p.stderr_tail();
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
        rep = std::move(proved);
    } catch (const VerificationError& e) {
        for (const auto& d : e.differences()) diffs.push_back(d);
    }
    if (!diffs.empty())
        throw VerificationError(
            fmt::format("restore into {} failed verification: {} difference(s): {}",
                        o.target.describe(), diffs.size(), diffs.front()),
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
