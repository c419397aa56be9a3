// The real globals driver: roles and other cluster-wide objects from pg_dumpall
// --globals-only, in a read-only session; their own fingerprint (what pg_dumpall writes, read
// from the catalogs a non-superuser can read) decides when they are stored again.
#include "job/real_drivers.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/pg/client_env.hpp>
#include <dolibak/pg/connection.hpp>
#include <dolibak/pg/session.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/process/process.hpp>

#include <algorithm>

namespace dolibak::job::detail {

namespace {

class RealGlobals final : public HalfDriver {
public:
    explicit RealGlobals(const Config& c) : settings_(c.db) {}

    catalog::ObjectKind object_kind() const override { return catalog::ObjectKind::globals_sql; }
    std::string format() const override { return "sql"; }

    // Roles with their attributes and settings, memberships, per-database role settings and
    // tablespaces: what pg_dumpall --globals-only writes, but the passwords (pg_authid is for
    // superusers only; a password change alone is not seen).
    LiveFingerprint fingerprint(const DriverContext& ctx) override {
        if (!settings_) throw ConfigError("no database is configured");
        const auto& s = *settings_;
        ctx.info("fingerprinting the roles and tablespaces of " + s.conn.describe());
        pg::Connection c(s.conn);
        const std::string text = c.scalar(
            "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM ("
            "SELECT format('role %s %s %s %s %s %s %s %s %s %s %s', rolname, rolsuper, "
            "rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, "
            "rolconnlimit, rolvaliduntil, rolconfig) AS x FROM pg_roles "
            "UNION ALL SELECT format('member %s %s %s %s', r.rolname, m.rolname, g.rolname, "
            "am.admin_option) FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid "
            "JOIN pg_roles m ON m.oid = am.member LEFT JOIN pg_roles g ON g.oid = am.grantor "
            "UNION ALL SELECT format('setting %s %s %s', r.rolname, d.datname, s.setconfig) "
            "FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN "
            "pg_database d ON d.oid = s.setdatabase "
            "UNION ALL SELECT format('tablespace %s %s %s %s', spcname, "
            "pg_get_userbyid(spcowner), spcacl, spcoptions) FROM pg_tablespace) t");
        const int server = c.server_version();
        return {io::sha256_hex(text),
                "roles",
                {},
                std::to_string(server / 10000) + "." + std::to_string(server % 10000)};
    }

    Produced produce(io::Sink& sink, const DriverContext&) override {
        Produced p;
        try {
            if (!settings_) throw ConfigError("no database is configured");
            const auto& s = *settings_;
            const auto path = pg::probe_session(s.conn);
            const int server = path.server_version;
            const auto tools = pgdump::find_tools(server / 10000, s.tools_dir);
            const auto pg_dumpall = tools.pg_dump.parent_path() / "pg_dumpall";
            process::ProcessOptions o;
            o.argv = {pg_dumpall.string(), "--globals-only", "--database=" + s.conn.dbname};
            if (!s.globals_with_passwords) o.argv.emplace_back("--no-role-passwords");
            const pg::ClientEnvironment client_env(s.conn);
            o.env = client_env.vars();
            o.inherit_fds = client_env.inherit_fds();  // the password file, if in memory
            // pg_dumpall --globals-only only reads the catalogs; where a pooler keeps the
            // startup options from the server, its session is not read-only by setting.
            if (path.startup_options)
                o.env.emplace_back("PGOPTIONS", pg::read_only_startup_options);
            p.tool_version = "pg_dumpall (PostgreSQL) " + tools.version;
            process::Process child(o);
            const auto bytes = io::pump(child.out(), sink);
            child.check();
            if (bytes == 0) throw Error("pg_dumpall wrote nothing");
            sink.finish();
        } catch (...) {
            sink.abort();
            throw;
        }
        return p;
    }

    std::vector<std::string> check_object(io::Source& object, const std::string&,
                                          const DriverContext&) override {
        std::vector<std::byte> first(4096);
        first.resize(io::read_full(object, first));
        const bool blank = std::all_of(first.begin(), first.end(), [](std::byte b) {
            const auto c = static_cast<unsigned char>(b);
            return c == ' ' || c == '\n' || c == '\t' || c == '\r';
        });
        if (blank) return {"globals SQL is empty"};
        return {};
    }

private:
    std::optional<DatabaseSettings> settings_;
};

}  // namespace

std::unique_ptr<HalfDriver> make_real_globals(const Config& config) {
    return std::make_unique<RealGlobals>(config);
}

}  // namespace dolibak::job::detail
