// Store keys: the folder and suffix of each kind of object, strict parsing.
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>

#include <array>
#include <span>

namespace dolibak::catalog {
namespace {

constexpr std::array<ObjectKind, 10> all_kinds{
    ObjectKind::db_dump_zst,    ObjectKind::db_dump,      ObjectKind::docs_tar_gz,
    ObjectKind::docs_tar_zst,   ObjectKind::docs_index,   ObjectKind::manifest,
    ObjectKind::globals_sql,    ObjectKind::verification, ObjectKind::verified_ok,
    ObjectKind::verified_failed};
// parse_store_key_view looks only at the first two for db/, the next three for docs/.
static_assert(all_kinds[0] == ObjectKind::db_dump_zst && all_kinds[1] == ObjectKind::db_dump &&
              all_kinds[2] == ObjectKind::docs_tar_gz && all_kinds[3] == ObjectKind::docs_tar_zst &&
              all_kinds[4] == ObjectKind::docs_index);

}  // namespace

std::string_view folder_of(ObjectKind kind) noexcept {
    switch (kind) {
        case ObjectKind::db_dump:
        case ObjectKind::db_dump_zst:
            return "db";
        case ObjectKind::docs_tar_gz:
        case ObjectKind::docs_tar_zst:
        case ObjectKind::docs_index:
            return "docs";
        case ObjectKind::manifest:
            return "manifests";
        case ObjectKind::globals_sql:
            return "globals";
        case ObjectKind::verification:
        case ObjectKind::verified_ok:
        case ObjectKind::verified_failed:
            return "verified";
    }
    return "";
}

std::string_view suffix_of(ObjectKind kind) noexcept {
    switch (kind) {
        case ObjectKind::db_dump:
            return ".dump";
        case ObjectKind::db_dump_zst:
            return ".dump.zst";
        case ObjectKind::docs_tar_gz:
            return ".tar.gz";
        case ObjectKind::docs_tar_zst:
            return ".tar.zst";
        case ObjectKind::docs_index:
            return ".index.zst";
        case ObjectKind::manifest:
            return ".json";
        case ObjectKind::globals_sql:
            return ".sql";
        case ObjectKind::verification:
            return ".json";
        case ObjectKind::verified_ok:
            return ".ok.json";
        case ObjectKind::verified_failed:
            return ".failed.json";
    }
    return "";
}

bool is_backup_object(ObjectKind kind) noexcept {
    return kind != ObjectKind::manifest && !is_verification_record(kind);
}

bool is_verification_record(ObjectKind kind) noexcept {
    return kind == ObjectKind::verification || kind == ObjectKind::verified_ok ||
           kind == ObjectKind::verified_failed;
}

std::optional<StoreKeyView> parse_store_key_view(std::string_view key) noexcept {
    const auto slash = key.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view name = key.substr(slash + 1);
    bool encrypted = false;
    if (name.ends_with(encrypted_suffix)) {
        name.remove_suffix(encrypted_suffix.size());
        encrypted = true;
    }
    const std::string_view dir = key.substr(0, slash);
    const auto dir_slash = dir.rfind('/');
    const std::string_view folder =
        dir_slash == std::string_view::npos ? dir : dir.substr(dir_slash + 1);
    const std::string_view prefix =
        dir_slash == std::string_view::npos ? std::string_view{} : dir.substr(0, dir_slash);
    // The kinds of the folder, in all_kinds' order (the first whose suffix matches wins).
    std::span<const ObjectKind> kinds;
    if (folder == "db")
        kinds = std::span(all_kinds).subspan(0, 2);
    else if (folder == "docs")
        kinds = std::span(all_kinds).subspan(2, 3);
    else
        kinds = all_kinds;
    for (const ObjectKind kind : kinds) {
        if (folder != folder_of(kind)) continue;
        const auto suffix = suffix_of(kind);
        if (name.size() != 16 + suffix.size() || name.substr(16) != suffix) continue;
        auto t = try_parse_timestamp(name.substr(0, 16));
        if (!t) return std::nullopt;
        if (encrypted && !is_backup_object(kind)) return std::nullopt;
        return StoreKeyView{prefix, folder, *t, kind, encrypted};
    }
    return std::nullopt;
}

std::optional<StoreKey> parse_store_key(std::string_view key) noexcept {
    const auto k = parse_store_key_view(key);
    if (!k) return std::nullopt;
    try {
        return StoreKey{std::string(k->prefix), std::string(k->half), k->time, k->kind,
                        k->encrypted};
    } catch (...) {
        return std::nullopt;
    }
}

std::string make_store_key(std::string_view prefix, ObjectKind kind, TimePoint time,
                           bool encrypted) {
    if (encrypted && !is_backup_object(kind))
        throw ConfigError("only a half's object is stored encrypted as a .age object");
    std::string key(prefix);
    if (!key.empty() && key.back() != '/') key += '/';
    key += folder_of(kind);
    key += '/';
    key += format_timestamp(time);
    key += suffix_of(kind);
    if (encrypted) key += encrypted_suffix;
    return key;
}

std::optional<TimePoint> parse_run_name(std::string_view which) {
    if (which.empty() || which == "latest") return std::nullopt;
    try {
        return parse_time_either(which);
    } catch (const ConfigError& e) {
        throw ConfigError(std::string(e.what()) +
                          "; or latest, the newest run (dolibak list shows the runs)");
    }
}

}  // namespace dolibak::catalog
