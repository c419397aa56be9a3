#pragma once
// The environment of a libpq client program that dolibak runs (pg_dump, pg_restore,
// pg_dumpall, psql): built for that child alone, on top of process::EnvBase::minimal. The
// password goes in a password file named by PGPASSFILE, so that it is not in the child's
// /proc/<pid>/environ. That file lives in memory, not on a file system: an anonymous memory
// file (memfd_create, 0600, sealed read-only) that the child inherits at the same descriptor
// number (ProcessOptions::inherit_fds), PGPASSFILE=/proc/self/fd/<n>. Nothing is left behind
// however dolibak ends, SIGKILL included. Only where memfd_create is refused (ENOSYS, EPERM:
// an old kernel, a seccomp profile) or /proc/self/fd does not show the descriptor as a 0600
// regular file (no /proc mounted) is the password written to a file (0600, in a private 0700
// directory of the temporary directory), removed when the ClientEnvironment dies: that one
// stays on disk if dolibak is killed outright.
#include <dolibak/core/export.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/pg/connection.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dolibak::pg {

/// libpq variables that only tune how a connection is made (TLS files, Kerberos/GSS,
/// channel binding...) and that a child takes from dolibak's own environment when set there:
/// PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGSSLCRL, PGSSLCRLDIR, PGSSLSNI, PGSSLNEGOTIATION,
/// PGSSLMINPROTOCOLVERSION, PGSSLMAXPROTOCOLVERSION, PGGSSENCMODE, PGGSSLIB,
/// PGKRBSRVNAME, PGCHANNELBINDING, PGREQUIREAUTH, PGTARGETSESSIONATTRS. Never the target
/// (PGHOST...: from ConnectionParams) nor a secret.
DOLIBAK_API bool is_libpq_tuning_name(std::string_view name);

namespace detail {
/// Where the password file goes. `memory` falls back to `temp_file` as the header comment
/// says; `temp_file` forces the fallback (tests).
enum class PasswordFileKind { memory, temp_file };
}  // namespace detail

class DOLIBAK_API ClientEnvironment {
public:
    /// `temp_dir`: where the fallback password file's private directory goes (empty: the
    /// system's temporary directory). Throws IoError when the password cannot be stored.
    explicit ClientEnvironment(const ConnectionParams& params,
                               const std::filesystem::path& temp_dir = {},
                               detail::PasswordFileKind kind = detail::PasswordFileKind::memory);
    ~ClientEnvironment();
    ClientEnvironment(const ClientEnvironment&) = delete;
    ClientEnvironment& operator=(const ClientEnvironment&) = delete;

    /// For ProcessOptions::env: PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE (when set),
    /// PGCONNECT_TIMEOUT, PGPASSFILE (the password file; without a password, dolibak's own
    /// PGPASSFILE when set, else libpq's ~/.pgpass), the tuning variables of dolibak's
    /// environment; PGSERVICE and PGPASSWORD never (but for a password with a line break,
    /// which a password file cannot hold).
    const std::vector<std::pair<std::string, std::optional<std::string>>>& vars() const noexcept {
        return vars_;
    }
    /// For ProcessOptions::inherit_fds: the memory file's descriptor (empty when there is
    /// none). Only the libpq child is given it; every other child stays without.
    std::vector<int> inherit_fds() const {
        return memfd_ ? std::vector<int>{memfd_.get()} : std::vector<int>{};
    }
    /// The password file PGPASSFILE names (empty without a password of ours):
    /// /proc/self/fd/<n>, which names the same file here while this object lives, or the
    /// fallback's file in its private directory.
    const std::filesystem::path& password_file() const noexcept { return file_; }

private:
    bool store_in_memory(const std::string& line);
    void store_in_temp_dir(const std::string& line, const std::filesystem::path& temp_dir);

    std::vector<std::pair<std::string, std::optional<std::string>>> vars_;
    io::UniqueFd memfd_;
    std::filesystem::path dir_;
    std::filesystem::path file_;
};

}  // namespace dolibak::pg
