#include <dolibak/core/error.hpp>
#include <dolibak/pg/client_env.hpp>
#include <dolibak/pg/session.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/process/process.hpp>

#include <fmt/core.h>

#include <csignal>

namespace dolibak::pgdump {

std::vector<std::string> dump_argv(const DumpOptions& o, const PgTools& tools) {
    std::vector<std::string> argv{tools.pg_dump.string(), "--format=custom", "--no-password"};
    if (o.mode == DumpMode::zstd)
        argv.emplace_back("--compress=0");
    else if (o.pg_dump_level)
        argv.push_back(fmt::format("--compress={}", *o.pg_dump_level));
    if (!o.snapshot.empty()) argv.push_back("--snapshot=" + o.snapshot);
    for (const auto& a : o.extra_args) argv.push_back(a);
    return argv;
}

DumpResult dump(const DumpOptions& o, io::Sink& sink) {
    DumpResult res;
    bool read_only_options = false;
    try {
        // The path pg_dump takes: whether the read-only startup options reach the server,
        // and that it keeps one server session (a transaction pooler is refused here).
        const auto path = o.probe ? *o.probe : pg::probe_session(o.conn);
        res.server_version = path.server_version;
        res.read_only_by = path.read_only_by();
        read_only_options = path.startup_options;
        res.tools = o.tools ? *o.tools : find_tools(res.server_version / 10000, o.tools_dir);
        if (res.tools.major * 10000 < (res.server_version / 10000) * 10000)
            throw ConfigError(
                fmt::format("pg_dump {} ({}) is older than the PostgreSQL {}.{} server",
                            res.tools.version, res.tools.pg_dump.string(),
                            res.server_version / 10000, res.server_version % 10000));
    } catch (...) {
        sink.abort();
        throw;
    }

    // pg_dump's environment: its libpq settings and a password file, nothing of ours.
    std::optional<pg::ClientEnvironment> client_env;
    try {
        client_env.emplace(o.conn);
    } catch (...) {
        sink.abort();
        throw;
    }
    process::ProcessOptions po;
    po.argv = dump_argv(o, res.tools);
    po.env = client_env->vars();
    po.inherit_fds = client_env->inherit_fds();  // the password file, if in memory
    // Whatever the role's settings, the dump's session cannot write. Where a pooler keeps
    // the startup options from the server, pg_dump's own transaction is the guarantee: it
    // reads everything in one REPEATABLE READ, READ ONLY transaction.
    if (read_only_options) po.env.emplace_back("PGOPTIONS", pg::read_only_startup_options);
    po.in = process::Stdio::null;
    po.out = process::Stdio::pipe;
    po.err = process::Stdio::capture;
    po.new_process_group = true;

    std::unique_ptr<io::ZstdSink> zsink;
    io::Sink* target = &sink;
    if (o.mode == DumpMode::zstd) {
        zsink = std::make_unique<io::ZstdSink>(sink, o.zstd);
        target = zsink.get();
    }
    ArchiveReader reader;
    std::uint64_t out_direct = 0;
    std::optional<process::Process> proc;
    try {
        proc.emplace(std::move(po));
        std::vector<std::byte> buf(io::default_buffer_size);
        for (;;) {
            const std::size_t n = proc->out().read(buf);
            if (n == 0) break;
            if (out_direct == 0 && o.on_output) o.on_output();
            const io::Bytes chunk(buf.data(), n);
            reader.update(chunk);
            if (reader.failed()) break;
            target->write(chunk);
            out_direct += n;
        }
        if (reader.failed()) proc->kill(SIGTERM);
        const process::ExitStatus st = proc->wait();
        res.stderr_text = proc->stderr_tail();
        if (!st.success() && !reader.failed())
            throw ProcessError(fmt::format("pg_dump of {} failed: {}: {}", o.conn.describe(),
                                           st.describe(), res.stderr_text),
                               res.tools.pg_dump.string(), st.code, st.signal, res.stderr_text);
        reader.finish();
        if (!reader.result().ok()) {
            const auto r = reader.result();
            std::string msg = fmt::format("pg_dump of {} produced an invalid archive: {}",
                                          o.conn.describe(), r.message);
            if (!st.success())
                msg += fmt::format("; pg_dump {}: {}", st.describe(), res.stderr_text);
            throw FormatError(msg, r.offset);
        }
        if (o.before_finish) o.before_finish();
        target->finish();
    } catch (...) {
        target->abort();
        if (proc) {
            proc->kill(SIGKILL);
            proc->wait();
        }
        throw;
    }
    res.summary = reader.summary();
    res.bytes_out = zsink ? zsink->bytes_out() : out_direct;
    return res;
}

}  // namespace dolibak::pgdump
