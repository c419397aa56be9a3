// Job::check: the preflight of the original setup test, one item per thing a backup needs.
#include "job/docs_mode.hpp"
#include "job/job_impl.hpp"
#include "job/real_drivers.hpp"

#include <dolibak/core/text.hpp>
#include <dolibak/pg/connection.hpp>

#include <libpq-fe.h>

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/pg/session.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/tarball/excludes.hpp>
#include <dolibak/tarball/walk.hpp>

#include <fmt/core.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>

namespace dolibak::job {

namespace {

std::string human_bytes(std::uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string random_hex(std::size_t bytes) {
    std::random_device rd;
    std::string raw(bytes, '\0');
    for (auto& c : raw) c = static_cast<char>(rd() & 0xff);
    return io::to_hex(io::as_bytes(raw));
}

// Reserved key of the store probe: not a backup, manifest, fingerprint or lock name.
constexpr const char* probe_prefix = ".dolibak-check-";

// Walks the documents tree with the tar writer's own walk (same excludes, same order, same
// opens): counts what it can read and names the first entries it cannot.
struct DocsWalk {
    std::uint64_t files = 0, dirs = 0, bytes = 0;
    std::uint64_t excluded_files = 0, excluded_bytes = 0;
    std::vector<std::string> unreadable;
    std::uint64_t unreadable_count = 0;

    void note_unreadable(const std::string& path, const std::string& what, int err) {
        ++unreadable_count;
        if (unreadable.size() < 3)
            unreadable.push_back(fmt::format("{} ({}: {})", path, what, errno_text(err)));
    }
};

DocsWalk walk_docs(const std::filesystem::path& root, const tarball::ExcludeMatcher& ex) {
    DocsWalk w;
    tarball::WalkHandlers h;
    h.entry = [&w](const tarball::WalkEntry& e) {
        if (S_ISDIR(e.st.st_mode)) {
            ++w.dirs;
        } else if (S_ISREG(e.st.st_mode)) {
            ++w.files;
            w.bytes += static_cast<std::uint64_t>(e.st.st_size);
            // The writer opens every file this way: probe exactly that.
            io::UniqueFd fd(tarball::open_for_reading(e.parent_fd, e.name));
            if (!fd && errno != ENOENT) w.note_unreadable(e.path, "cannot open", errno);
        }
    };
    h.unreadable = [&w](const std::string& path, const std::string& what, int err) {
        w.note_unreadable(path, what, err);
    };
    h.excluded = [&w](const std::string&, int, std::uint64_t files, std::uint64_t bytes) {
        w.excluded_files += files;
        w.excluded_bytes += bytes;
    };
    tarball::walk(root, ex, h);
    return w;
}

}  // namespace

CheckReport Job::check() {
    Impl& im = *impl_;
    CheckReport report;
    std::vector<std::string_view> secrets;
    if (im.config.db) secrets.push_back(im.config.db->conn.password.reveal());
    if (im.config.store.credentials) {
        secrets.push_back(im.config.store.credentials->secret_access_key.reveal());
        secrets.push_back(im.config.store.credentials->session_token.reveal());
    }
    auto clean = [&](std::string text) {
        for (auto s : secrets)
            if (!s.empty()) text = redact(std::move(text), {s});
        return text;
    };
    auto add = [&](std::string name, bool ok, std::string detail) {
        CheckItem item{std::move(name), ok, clean(std::move(detail))};
        (ok ? im.info("", item.name + ": " + item.detail)
            : im.warn("", item.name + ": FAILED: " + item.detail));
        report.items.push_back(std::move(item));
    };
    // Runs one item; an exception makes it fail with its message (never the whole check).
    auto item = [&](const std::string& name,
                    const std::function<std::pair<bool, std::string>()>& f) {
        im.check_cancel("checking " + name);
        try {
            auto [ok, detail] = f();
            add(name, ok, std::move(detail));
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            add(name, false, e.what());
        }
    };

    // ---- database ----
    if (im.config.db) {
        const auto& db = *im.config.db;
        std::optional<int> server;
        item("database", [&]() -> std::pair<bool, std::string> {
            pg::Connection c(db.conn);
            server = PQserverVersion(c.get());
            // The dump's session: PGOPTIONS=-c default_transaction_read_only=on.
            c.exec("SET default_transaction_read_only = on");
            const std::string ro = c.scalar("SHOW default_transaction_read_only");
            bool write_refused = false;
            std::string why;
            try {
                c.exec("CREATE TEMPORARY TABLE dolibak_check_probe (a int)");
                c.exec("DROP TABLE dolibak_check_probe");
            } catch (const DatabaseError& e) {
                why = e.what();
                write_refused = why.find("read-only") != std::string::npos;
            }
            const std::string tables = c.scalar(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND c.relname LIKE " +
                c.quote_literal(im.config.profile.table_like_pattern()) +
                " AND has_table_privilege(c.oid, 'SELECT')");
            const bool super = c.scalar(
                                   "SELECT rolsuper FROM pg_roles WHERE rolname = "
                                   "current_user") == "t";
            std::string detail = fmt::format(
                "{} reachable (server {}.{}), session read-only: {}, writes {}; {} readable "
                "tables match {}{}",
                db.conn.describe(), *server / 10000, *server % 10000, ro,
                write_refused ? "refused" : "NOT refused (" + why + ")", tables,
                im.config.profile.table_like_pattern(),
                super ? "; note: connected as a superuser, a read-only role is enough" : "");
            return {ro == "on" && write_refused, detail};
        });
        // The path pg_dump takes, probed as backup probes it: startup options, pooling.
        item("database session", [&]() -> std::pair<bool, std::string> {
            const auto path = pg::probe_session(db.conn);
            return {true, path.read_only_by() + "; " + path.session_evidence};
        });
        // What pg_dump reads: every table's rows (COPY), every sequence's state and every large
        // object, in every schema but the system ones; one it may not read fails the backup.
        item("database read access", [&]() -> std::pair<bool, std::string> {
            if (!server) return {false, "not checked: the database is unreachable"};
            pg::Connection c(db.conn);
            const std::string user_schemas =
                "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE "
                "'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";
            auto r = c.exec(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', "
                "'S') AND " +
                user_schemas +
                " AND NOT (has_schema_privilege(n.oid, 'USAGE') AND "
                "has_table_privilege(c.oid, 'SELECT')) ORDER BY 1");
            const int unreadable = PQntuples(r.get());
            const std::string relations = c.scalar(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'S') AND " +
                user_schemas);
            // A large object is readable by its owner (or a member), by a role it is granted
            // to (or PUBLIC), by a superuser, or by anyone under lo_compat_privileges.
            const std::string los = c.scalar("SELECT count(*) FROM pg_largeobject_metadata");
            const std::string lo_unreadable = c.scalar(
                "SELECT CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
                "OR current_setting('lo_compat_privileges')::boolean THEN 0 ELSE (SELECT "
                "count(*) FROM pg_largeobject_metadata m WHERE NOT pg_has_role(m.lomowner, "
                "'USAGE') AND NOT EXISTS (SELECT 1 FROM aclexplode(m.lomacl) a WHERE "
                "a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_has_role(a.grantee, "
                "'USAGE')))) END");
            // The catalog says so; the read itself is the proof: the first large object is
            // opened and read as pg_dump reads it (the role, a read-only transaction).
            if (unreadable == 0 && lo_unreadable == "0" && los != "0") {
                try {
                    c.exec("BEGIN TRANSACTION READ ONLY");
                    c.exec(
                        "SELECT lo_get((SELECT min(oid::bigint) FROM "
                        "pg_largeobject_metadata)::oid, 0, 1)");
                    c.exec("ROLLBACK");
                } catch (const DatabaseError& e) {
                    return {false, fmt::format("the large objects look readable by {}, but reading "
                                               "one failed as pg_dump's read would: {}",
                                               db.conn.user, e.what())};
                }
            }
            if (unreadable == 0 && lo_unreadable == "0")
                return {true, fmt::format("every table and sequence ({}) and large object ({}) "
                                          "pg_dump reads is readable",
                                          relations, los)};
            std::string detail;
            if (unreadable > 0) {
                detail = fmt::format("{} pg_dump must read {} not readable by {}:",
                                     count_noun(static_cast<std::uint64_t>(unreadable),
                                                "table or sequence", "tables or sequences"),
                                     unreadable == 1 ? "is" : "are", db.conn.user);
                for (int i = 0; i < std::min(unreadable, 5); ++i)
                    detail += std::string(" ") + PQgetvalue(r.get(), i, 0);
                if (unreadable > 5) detail += " ...";
            }
            if (lo_unreadable != "0")
                detail +=
                    fmt::format("{}{} of {} {} not readable by {}", detail.empty() ? "" : "; ",
                                lo_unreadable, count_noun(std::stoull(los), "large object"),
                                lo_unreadable == "1" ? "is" : "are", db.conn.user);
            return {false, detail + " (grant SELECT, or leave them out of the dump)"};
        });
        item("pg tools", [&]() -> std::pair<bool, std::string> {
            if (!server) return {false, "not checked: the database is unreachable"};
            const auto tools = pgdump::find_tools(*server / 10000, db.tools_dir);
            std::string restore_version;
            const int rmajor = pgdump::tool_major_version(tools.pg_restore, &restore_version);
            const bool ok = tools.major >= *server / 10000 && rmajor == tools.major;
            return {ok, fmt::format("pg_dump {} ({}) and pg_restore {} ({}) for server {}",
                                    tools.version, tools.pg_dump.string(), restore_version,
                                    tools.pg_restore.string(), *server / 10000)};
        });
    }

    // ---- documents ----
    if (im.config.docs) {
        const auto root = im.config.docs->root;
        item("documents", [&]() -> std::pair<bool, std::string> {
            std::error_code ec;
            const auto st = std::filesystem::status(root, ec);
            if (ec || !std::filesystem::exists(st))
                return {false, root.string() + " does not exist"};
            if (!std::filesystem::is_directory(st))
                return {false, root.string() + " is not a directory"};
            const DocsWalk w =
                walk_docs(root, tarball::ExcludeMatcher(detail::document_excludes(im.config)));
            std::string detail = fmt::format(
                "{}: {} files, {} directories, {}; {} files ({}) left out by the "
                "excludes",
                root.string(), w.files, w.dirs, human_bytes(w.bytes), w.excluded_files,
                human_bytes(w.excluded_bytes));
            bool ok = true;
            if (w.unreadable_count > 0) {
                std::string names;
                for (const auto& u : w.unreadable) names += (names.empty() ? "" : ", ") + u;
                detail += fmt::format(
                    "; {} unreadable ({}){}", w.unreadable_count, names,
                    im.config.docs->skip_unreadable ? ", skipped by skip_unreadable" : "");
                ok = im.config.docs->skip_unreadable;
            }
            for (const auto& r : im.config.profile.required_documents) {
                if (!std::filesystem::exists(std::filesystem::symlink_status(root / r, ec))) {
                    detail += "; " + r + " missing (the " + im.config.profile.name +
                              " profile requires it)" +
                              (im.config.docs->allow_missing_required
                                   ? ", allowed by docs_allow_missing_required"
                                   : "");
                    ok = ok && im.config.docs->allow_missing_required;
                }
            }
            if (std::filesystem::directory_iterator(root, ec) ==
                    std::filesystem::directory_iterator() &&
                !ec) {
                detail += "; the directory is empty (is its volume mounted?)" +
                          std::string(im.config.docs->allow_missing_required
                                          ? ", allowed by docs_allow_missing_required"
                                          : "");
                ok = ok && im.config.docs->allow_missing_required;
            }
            return {ok, detail};
        });
    }

    // ---- store ----
    std::optional<std::chrono::seconds> skew;
    bool store_ok = false;
    item("store", [&]() -> std::pair<bool, std::string> {
        auto& s = im.store();
        const std::string key = probe_prefix + random_hex(8);
        const std::string payload = "dolibak check probe " + random_hex(16) + "\n";
        const auto before = std::chrono::system_clock::now();
        store::PutOptions po;
        po.no_overwrite = true;
        po.content_type = "text/plain";
        s.put_bytes(key, payload, po);
        const auto after = std::chrono::system_clock::now();
        bool removed = false;
        try {
            const auto info = s.head(key);
            if (!info) throw Error("the probe " + key + " is not visible after its upload");
            if (s.url().rfind("s3://", 0) == 0) {
                // Last-Modified is the server's clock at the upload, to the second.
                const auto lo =
                    std::chrono::floor<std::chrono::seconds>(before) - std::chrono::seconds(1);
                const auto hi =
                    std::chrono::ceil<std::chrono::seconds>(after) + std::chrono::seconds(1);
                const auto m = std::chrono::floor<std::chrono::seconds>(info->modified);
                skew = m < lo ? m - lo : m > hi ? m - hi : std::chrono::seconds(0);
            }
            const std::string back = s.get_bytes(key, 4096);
            if (back != payload) throw Error("the probe read back differs from what was written");
            s.remove(key);
            removed = true;
            if (s.head(key)) throw Error("the probe " + key + " is still there after its removal");
        } catch (...) {
            if (!removed) {
                try {
                    s.remove(key);
                } catch (...) {
                }
            }
            throw;
        }
        store_ok = true;
        return {true, s.url() + ": put, get and delete of a probe object work"};
    });
    item("clock", [&]() -> std::pair<bool, std::string> {
        if (im.store().url().rfind("s3://", 0) != 0)
            return {true, "local directory store: no remote clock to compare"};
        if (!store_ok || !skew) return {false, "not checked: the store is unreachable"};
        const auto abs = skew->count() < 0 ? -skew->count() : skew->count();
        // S3 refuses requests signed more than 15 minutes off; retention buckets want better.
        const bool ok = abs <= 300;
        return {ok, abs == 0 ? std::string("the store's clock agrees with this machine's")
                             : fmt::format("the store's clock is {} s {} this machine's{}", abs,
                                           skew->count() > 0 ? "ahead of" : "behind",
                                           ok ? "" : " (more than 300 s: fix NTP)")};
    });

    // ---- encryption ----
    if (im.config.encryption.enabled() || im.has_identities()) {
        item("encryption", [&]() -> std::pair<bool, std::string> {
            const auto& rs = im.config.encryption.recipients;
            // docs_mode packs reads the previous encrypted index: the backup refuses to start
            // without an identity for one of the recipients.
            // docs_mode auto follows the store (not reachable: as for a new store).
            bool packs_mode = false;
            if (im.config.docs && !rs.empty()) {
                try {
                    packs_mode = im.choose_docs_mode(false);
                } catch (const Error&) {
                    packs_mode = detail::choose_docs_mode(im.config.docs->mode, std::nullopt, true,
                                                          im.has_identities())
                                     .packs;
                }
            }
            if (packs_mode) im.check_packs_identity();
            std::string detail =
                rs.empty() ? std::string("new objects are stored in the clear (no age_recipients)")
                           : fmt::format("new objects are encrypted to {}",
                                         count_noun(rs.size(), "age recipient"));
            if (!im.has_identities()) return {true, detail + "; no identity (restore needs one)"};
            const auto& ids = im.identities("checking the age identities");
            std::size_t opening = 0;
            for (const auto& id : ids.x25519) {
                const auto r = io::age_recipient_of(id);
                if (std::find(rs.begin(), rs.end(), r) != rs.end()) ++opening;
            }
            detail +=
                fmt::format("; {} read", count_noun(ids.x25519.size(), "identity", "identities"));
            if (!rs.empty())
                detail += fmt::format(", {} of them for a recipient of new objects", opening);
            if (packs_mode) detail += " (docs_mode packs reads the previous index with it)";
            return {true, detail};
        });
    }

    // ---- temporary space ----
    item("temp space", [&]() -> std::pair<bool, std::string> {
        const auto dir = im.config.temp_dir.empty() ? std::filesystem::temp_directory_path()
                                                    : im.config.temp_dir;
        struct statvfs vfs {};
        if (::statvfs(dir.c_str(), &vfs) != 0)
            throw IoError("cannot look at the free space of", dir.string(), errno);
        const std::uint64_t free_bytes =
            static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
        // Writable: a temporary file made and removed.
        std::string templ = (dir / ".dolibak-check-XXXXXX").string();
        const int fd = ::mkstemp(templ.data());
        if (fd < 0) throw IoError("cannot create a temporary file in", dir.string(), errno);
        ::close(fd);
        ::unlink(templ.c_str());
        // A restore spools the dump (--jobs) or takes a safety dump of the target there.
        std::uint64_t largest = 0;
        if (store_ok) {
            try {
                for (const auto& b : im.catalog->scan(catalog::Catalog::Load::none).backups)
                    if (b.half == "db") largest = b.size;
            } catch (const Error&) {
            }
        }
        const std::uint64_t need = std::max<std::uint64_t>(2 * largest, 256u << 20);
        return {free_bytes >= need,
                fmt::format("{} free in {} (a spooled restore or safety dump needs about {})",
                            human_bytes(free_bytes), dir.string(), human_bytes(need))};
    });
    if (store_ok) {
        item("history: no run stamped in the future", [&]() -> std::pair<bool, std::string> {
            const TimePoint now = im.now();
            std::vector<std::string> future;
            const auto listing = im.catalog->scan(catalog::Catalog::Load::none);
            for (const auto& run : listing.runs)
                if (catalog::is_future(run.time, now)) future.push_back(format_timestamp(run.time));
            for (const auto& b : listing.backups)
                if (!b.has_manifest && catalog::is_future(b.time, now)) future.push_back(b.key);
            if (future.empty())
                return {true, "every run is stamped before " + format_timestamp(now)};
            return {false, fmt::format("{} stamped in the future (now {}), first {}: a "
                                       "machine with a wrong clock? they are never taken as the "
                                       "latest; delete them once the clock is right",
                                       count_noun(future.size(), "run"), format_timestamp(now),
                                       future.front())};
        });
    }
    return report;
}

}  // namespace dolibak::job
