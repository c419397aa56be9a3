// Job::restore_db and Job::restore_docs: a backup streamed from the store into pg_restore or
// the safe extractor, every byte checked against the manifest before anything is committed.
#include "job/job_impl.hpp"
#include "job/ops_streams.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/toc_filter.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

namespace dolibak::job {

namespace {

detail::CheckedSource::Expect expectation(const std::optional<catalog::ManifestHalf>& h) {
    detail::CheckedSource::Expect x;
    if (h) {
        x.sha256 = h->sha256;
        x.bytes = h->bytes;
    }
    return x;
}

// The identities that open `key` when it is encrypted (a clear error when none is given),
// nullptr for an object in the clear. Called before anything is read or changed.
const io::AgeIdentities* identities_for(Job::Impl& im, const std::string& key) {
    if (!detail::is_encrypted_object(key)) return nullptr;
    return &im.identities("restoring " + key);
}

// Empty but for what an interrupted restore left (the extractor removes or completes it).
bool directory_is_empty(const std::filesystem::path& p) {
    for (const auto& e : std::filesystem::directory_iterator(p)) {
        const auto n = e.path().filename().string();
        if (n.rfind(".dolibak-staging-", 0) != 0 && n.rfind(".dolibak-old-", 0) != 0 &&
            n.rfind(".dolibak-restore-journal", 0) != 0)
            return false;
    }
    return true;
}

}  // namespace

pgdump::RestoreReport Job::restore_db(const RestoreDbOptions& options) {
    Impl& im = *impl_;
    if (!options.exclude.empty() && options.restore.list)
        throw ConfigError("give either TOC exclusions or a pg_restore list, not both");
    for (const auto& rule : options.exclude) pgdump::parse_rule(rule);  // bad rules fail first
    auto* driver = im.env->database();
    if (!driver) throw ConfigError("the environment has no database driver");
    const ListReport listing = im.catalog->scan(catalog::Catalog::Load::none);
    const BackupEntry entry = im.catalog->find_backup(listing, "db", options.which, im.now());
    const auto recorded = im.catalog->recorded_half(listing, entry);
    im.info("db", fmt::format("restoring {} ({} bytes{}) into {}", entry.key, entry.size,
                              recorded ? ", SHA-256 checked before commit" : ", no manifest",
                              options.restore.target.describe()));
    RestoreDbOptions resolved = options;
    resolved.restore.proof = im.proof(options.restore.proof);
    // The configured database itself, holding data: every change since the backup would be
    // lost. (An empty one is a rebuild after a disaster: nothing to lose.)
    if (im.config.db && detail::same_database(options.restore.target, im.config.db->conn) &&
        pgdump::count_user_objects(options.restore.target) > 0) {
        if (!options.overwrite_source)
            throw ConfigError(
                "refusing to restore " + entry.key + " over " + options.restore.target.describe() +
                ": it is the database dolibak backs up, and every change made since the backup "
                "would be lost; confirm explicitly that the source is to be overwritten "
                "(a safety dump of it is taken first)");
        if (!resolved.restore.safety_dump) {
            const auto dir = im.config.temp_dir.empty() ? std::filesystem::temp_directory_path()
                                                        : im.config.temp_dir;
            resolved.restore.safety_dump =
                dir / ("dolibak-safety-" + options.restore.target.dbname + "-" +
                       format_timestamp(im.now()) + ".dump");
        }
        im.warn("db", "restoring over the source database " + options.restore.target.describe() +
                          ": its safety dump goes to " + resolved.restore.safety_dump->string());
    }
    im.check_cancel("starting the restore");
    const io::AgeIdentities* ids = identities_for(im, entry.key);
    // The object is checked against the manifest's digest and size before its end is read
    // (CheckedSource below): its bytes are then exactly those the backup read whole, so the
    // restore walks its blocks without inflating them and proves the rows the manifest
    // recorded (docs/pgdump.md, "Counts recorded at backup").
    if (recorded) {
        std::string summary = im.summary_of(*recorded);
        if (!summary.empty()) resolved.restore.recorded_summary = std::move(summary);
    }
    auto raw = im.store().get(entry.key);
    detail::CheckedSource checked(*raw, entry.key, expectation(recorded), im.config.cancel,
                                  [&im, size = entry.size](std::uint64_t n) {
                                      im.emit({Event::Kind::progress, "db", "restoring", n, size});
                                  });
    try {
        // Encrypted: decrypted on the way (every chunk authenticated before it is used, the
        // ciphertext's digest checked before pg_restore commits).
        detail::ObjectContent content(checked, ids);
        auto rep = driver->restore(content.source(), entry.key, resolved, im.context("db"));
        im.info("db", rep.recorded_counts
                          ? "row counts proven against the manifest's (the object matched its "
                            "digest: blocks walked, not inflated again)"
                          : "row counts proven against the archive's (every block inflated)");
        return rep;
    } catch (Error& e) {
        e.with_context("restoring " + entry.key);
        throw;
    }
}

DocsRestoreReport Job::restore_docs(const RestoreDocsOptions& options) {
    Impl& im = *impl_;
    if (options.target.empty()) throw ConfigError("no target directory given for the documents");
    const auto target = std::filesystem::absolute(options.target).lexically_normal();
    std::error_code ec;
    const auto st = std::filesystem::symlink_status(target, ec);
    if (!ec && std::filesystem::exists(st)) {
        if (!std::filesystem::is_directory(st))
            throw ConfigError("the restore target " + target.string() +
                              " exists and is not a directory");
        const bool empty = directory_is_empty(target);
        if (options.extract.in_place && !empty)
            throw ConfigError("refusing an in-place restore into " + target.string() +
                              ": it is not empty (an in-place restore needs an empty target; "
                              "without --in-place its content is replaced all at once)");
        if (!options.confirm_non_empty && !empty)
            throw ConfigError("refusing to restore into " + target.string() +
                              ": it is not empty; confirm explicitly to replace its content");
    }
    if (options.extract.in_place && !options.extract.subtree.empty())
        throw ConfigError("an in-place restore of a subtree is not supported");

    auto* driver = im.env->documents();
    if (!driver) throw ConfigError("the environment has no documents driver");
    const ListReport listing = im.catalog->scan(catalog::Catalog::Load::none);
    const BackupEntry entry = im.catalog->find_backup(listing, "docs", options.which, im.now());
    const auto recorded = im.catalog->recorded_half(listing, entry);
    const auto kind = catalog::parse_store_key(entry.key);
    im.info("docs", fmt::format("restoring {} ({} bytes, {}{}) into {}", entry.key, entry.size,
                                !kind                                             ? "gzip"
                                : kind->kind == catalog::ObjectKind::docs_tar_zst ? "zstd"
                                : kind->kind == catalog::ObjectKind::docs_index   ? "packs"
                                                                                  : "gzip",
                                recorded ? ", SHA-256 checked before the swap" : ", no manifest",
                                target.string()));
    im.check_cancel("starting the restore");

    DocsRestoreReport rep;
    rep.key = entry.key;
    RestoreDocsOptions opts = options;
    // The extraction may not write more than the content the manifest recorded.
    const io::AgeIdentities* ids = identities_for(im, entry.key);
    const std::string summary = recorded ? im.summary_of(*recorded) : std::string();
    if (!summary.empty() && opts.extract.subtree.empty()) {
        const auto j = nlohmann::json::parse(summary, nullptr, false);
        if (j.is_object() && j.contains("content_bytes") && j["content_bytes"].is_number_unsigned())
            opts.extract.max_content_bytes = j["content_bytes"].get<std::uint64_t>();
    }
    if (!opts.extract.on_warning)
        opts.extract.on_warning = [&im](const std::string& w) { im.warn("docs", w); };
    auto raw = im.store().get(entry.key);
    detail::CheckedSource checked(
        *raw, entry.key, expectation(recorded), im.config.cancel,
        [&im, size = entry.size](std::uint64_t n) {
            im.emit({Event::Kind::progress, "docs", "restoring", n, size});
        });
    try {
        detail::ObjectContent content(checked, ids);
        rep.summary = driver->restore(content.source(), entry.key, target, opts,
                                      recorded.has_value(), im.context("docs"));
    } catch (Error& e) {
        e.with_context("restoring " + entry.key + " into " + target.string());
        throw;
    }
    for (const auto& r : im.config.profile.required_documents) {
        if (!std::filesystem::exists(std::filesystem::symlink_status(target / r, ec)))
            rep.missing_required.push_back(r);
    }
    if (!rep.missing_required.empty())
        im.warn("docs", "restored tree lacks what the " + im.config.profile.name +
                            " profile requires: " + rep.missing_required.front() +
                            (rep.missing_required.size() > 1 ? " and more" : ""));
    Event done{Event::Kind::info, "docs",
               fmt::format("restored {} files, {} directories, {} bytes", rep.summary.files,
                           rep.summary.directories, rep.summary.content_bytes),
               0, std::nullopt};
    done.key = entry.key;
    done.size = entry.size;
    done.outcome = "restored";
    im.emit(std::move(done));
    return rep;
}

}  // namespace dolibak::job
