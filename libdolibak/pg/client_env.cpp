// The environment of libpq client programs: connection variables and a password file in
// memory (or, failing that, a private one on disk) instead of PGPASSWORD.
#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/pg/client_env.hpp>

#include <fcntl.h>
#include <sys/mman.h>
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
                                     const std::filesystem::path& temp_dir,
                                     detail::PasswordFileKind kind) {
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
    const std::string line = passfile_line(password);
    if (kind == detail::PasswordFileKind::temp_file || !store_in_memory(line))
        store_in_temp_dir(line, temp_dir);
    vars_.emplace_back("PGPASSFILE", file_.string());
}

bool ClientEnvironment::store_in_memory(const std::string& line) {
    io::UniqueFd fd(::memfd_create("dolibak-pgpass", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) {
        // An old kernel, or a seccomp profile that refuses the call.
        if (errno == ENOSYS || errno == EPERM) return false;
        throw IoError("cannot create the in-memory password file", "", errno);
    }
    // The child's 0, 1 and 2 are its stdio: the descriptor must be above them (it is unless
    // one of ours was closed).
    if (fd.get() < 3) {
        io::UniqueFd above(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
        if (!above) throw IoError("cannot create the in-memory password file", "", errno);
        fd = std::move(above);
    }
    const std::filesystem::path path = "/proc/self/fd/" + std::to_string(fd.get());
    // 0600 (a memory file starts out with 0777; libpq ignores a file readable by others),
    // then sealed: it cannot change any more.
    if (::fchmod(fd.get(), 0600) != 0)
        throw IoError("cannot restrict the in-memory password file", "", errno);
    write_all(fd.get(), line, path);
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
        0)
        throw IoError("cannot seal the in-memory password file", "", errno);
    // libpq stat()s the path (a regular file, no group or other bits) then opens it: check
    // both here, where /proc/self/fd shows the same descriptor as in the child.
    struct stat mine {};
    struct stat seen {};
    if (::fstat(fd.get(), &mine) != 0 || ::stat(path.c_str(), &seen) != 0 ||
        !S_ISREG(seen.st_mode) || (seen.st_mode & 0777) != 0600 || seen.st_dev != mine.st_dev ||
        seen.st_ino != mine.st_ino)
        return false;
    io::UniqueFd reopened(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!reopened) return false;
    memfd_ = std::move(fd);
    file_ = path;
    return true;
}

void ClientEnvironment::store_in_temp_dir(const std::string& line,
                                          const std::filesystem::path& temp_dir) {
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
        write_all(fd.get(), line, file_);
        if (::close(fd.release()) != 0)
            throw IoError("cannot write the password file", file_.string(), errno);
    } catch (...) {
        std::filesystem::remove_all(dir_, ec);
        throw;
    }
}

ClientEnvironment::~ClientEnvironment() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

}  // namespace dolibak::pg
