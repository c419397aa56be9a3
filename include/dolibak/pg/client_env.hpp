#pragma once
// The environment of a libpq client program that dolibak runs (pg_dump, pg_restore,
// pg_dumpall, psql): built for that child alone, on top of process::EnvBase::minimal. The
// password is written to a password file (0600, in a private 0700 directory) named by
// PGPASSFILE, so that it is not in the child's /proc/<pid>/environ; the file and its
// directory are removed when the ClientEnvironment dies.
#include <dolibak/core/export.hpp>
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

class DOLIBAK_API ClientEnvironment {
public:
    /// `temp_dir`: where the password file's private directory goes (empty: the system's
    /// temporary directory). Throws IoError when it cannot be written.
    explicit ClientEnvironment(const ConnectionParams& params,
                               const std::filesystem::path& temp_dir = {});
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
    /// The password file (empty without a password).
    const std::filesystem::path& password_file() const noexcept { return file_; }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> vars_;
    std::filesystem::path dir_;
    std::filesystem::path file_;
};

}  // namespace dolibak::pg
