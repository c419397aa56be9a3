// The environment of libpq client programs: connection variables and a private password
// file instead of PGPASSWORD.
#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/pg/client_env.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

extern char** environ;

namespace dolibak::pg {

bool is_libpq_tuning_name(std::string_view name) {
    static constexpr std::string_view names[] = {"PGSSLROOTCERT",
                                                 "PGSSLCERT",
                                                 "PGSSLKEY",
                                                 "PGSSLCRL",
                                                 "PGSSLCRLDIR",
                                                 "PGSSLSNI",
                                                 "PGSSLNEGOTIATION",
                                                 "PGSSLMINPROTOCOLVERSION",
                                                 "PGSSLMAXPROTOCOLVERSION",
                                                 "PGGSSENCMODE",
                                                 "PGGSSLIB",
                                                 "PGKRBSRVNAME",
                                                 "PGCHANNELBINDING",
                                                 "PGREQUIREAUTH",
                                                 "PGTARGETSESSIONATTRS"};
    for (const auto n : names)
        if (name == n) return true;
    return false;
}

namespace {

// One line of a libpq password file: every field a wildcard (the file serves this one
// connection), the password with ':' and '\' escaped.
std::string passfile_line(std::string_view password) {
    std::string line = "*:*:*:*:";
    for (const char c : password) {
        if (c == ':' || c == '\\') line += '\\';
        line += c;
    }
    line += '\n';
    return line;
}

void write_all(int fd, std::string_view text, const std::filesystem::path& path) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw IoError("cannot write the password file", path.string(), errno);
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

ClientEnvironment::ClientEnvironment(const ConnectionParams& p,
                                     const std::filesystem::path& temp_dir) {
    auto opt = [](const std::string& v) {
        return v.empty() ? std::nullopt : std::optional<std::string>(v);
    };
    vars_.emplace_back("PGHOST", opt(p.host));
    vars_.emplace_back("PGPORT", std::to_string(p.port));
    vars_.emplace_back("PGUSER", opt(p.user));
    vars_.emplace_back("PGDATABASE", opt(p.dbname));
    vars_.emplace_back("PGSSLMODE", opt(p.sslmode));
    vars_.emplace_back("PGCONNECT_TIMEOUT", "30");
    // Whatever the base environment holds, these never change the target or the password.
    for (const char* name : {"PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE"})
        vars_.emplace_back(name, std::nullopt);
    for (char** e = environ; e && *e; ++e) {
        const std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos && is_libpq_tuning_name(kv.substr(0, eq)))
            vars_.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    const std::string& password = p.password.reveal();
    // A password file cannot hold a line break: such a password goes in PGPASSWORD.
    if (password.find_first_of("\r\n") != std::string::npos) {
        vars_.emplace_back("PGPASSFILE", "/dev/null");
        vars_.emplace_back("PGPASSWORD", password);
        return;
    }
    if (password.empty()) {
        // No password of ours: libpq's own ~/.pgpass (HOME is in the minimal base), or the
        // file PGPASSFILE names (a path, not a secret).
        if (const char* f = std::getenv("PGPASSFILE")) vars_.emplace_back("PGPASSFILE", f);
        return;
    }
    std::error_code ec;
    const auto base = temp_dir.empty() ? std::filesystem::temp_directory_path(ec) : temp_dir;
    std::string pattern = (base / "dolibak-pgpass-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
        throw IoError("cannot create a private directory for the password file", base.string(),
                      errno);
    dir_ = pattern;  // mkdtemp made it 0700
    file_ = dir_ / "pgpass";
    io::UniqueFd fd(
        ::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        const int err = errno;
        std::filesystem::remove_all(dir_, ec);
        throw IoError("cannot create the password file", file_.string(), err);
    }
    try {
        // 0600 whatever the umask (libpq ignores a file readable by others).
        if (::fchmod(fd.get(), 0600) != 0)
            throw IoError("cannot restrict the password file", file_.string(), errno);
        write_all(fd.get(), passfile_line(password), file_);
        if (::close(fd.release()) != 0)
            throw IoError("cannot write the password file", file_.string(), errno);
    } catch (...) {
        std::filesystem::remove_all(dir_, ec);
        throw;
    }
    vars_.emplace_back("PGPASSFILE", file_.string());
}

ClientEnvironment::~ClientEnvironment() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

}  // namespace dolibak::pg
