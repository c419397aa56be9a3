// Job::restore_db and Job::restore_docs: a backup streamed from the store into pg_restore or
// the safe extractor, every byte checked against the manifest before anything is committed.
#include "job/job_impl.hpp"
#include "job/ops_streams.hpp"

#include <dolibak/error.hpp>
#include <dolibak/pgdump/toc_filter.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/lister.hpp>

#include <fmt/core.h>

#include <sys/stat.h>

namespace dolibak::job {

namespace {

// What the manifest of the run that stored `entry` says about it (the run that uploads an
// object has the object's time stamp), when there is such a manifest.
template <typename JobImpl>
std::optional<ManifestHalf> recorded_half(JobImpl& im, const ListReport& listing,
                                          const BackupEntry& entry) {
    for (const auto& run : listing.runs) {
        if (run.time != entry.time) continue;
        try {
            const Manifest m = run.loaded ? run.manifest : im.load_manifest(run.manifest_key);
            auto it = m.halves.find(entry.half);
            if (it != m.halves.end() && it->second.key == entry.key) return it->second;
        } catch (const Error& e) {
            im.warn(entry.half,
                    std::string("manifest unreadable, restoring without its digest: ") + e.what());
        }
    }
    return std::nullopt;
}

detail::CheckedSource::Expect expectation(const std::optional<ManifestHalf>& h) {
    detail::CheckedSource::Expect x;
    if (h) {
        x.sha256 = h->sha256;
        x.bytes = h->bytes;
    }
    return x;
}

// Thrown by the first-entry peek to stop listing.
struct FirstEntrySeen {
    std::string path;
};

bool directory_is_empty(const std::filesystem::path& p) {
    return std::filesystem::directory_iterator(p) == std::filesystem::directory_iterator();
}

}  // namespace

pgdump::RestoreReport Job::restore_db(const RestoreDbOptions& options) {
    Impl& im = *impl_;
    const ListReport listing = im.scan(Impl::ManifestLoad::none);
    const BackupEntry entry = im.find_backup(listing, "db", options.which);
    const auto recorded = recorded_half(im, listing, entry);
    im.info("db", fmt::format("restoring {} ({} bytes{}) into {}", entry.key, entry.size,
                              recorded ? ", SHA-256 checked before commit" : ", no manifest",
                              options.restore.target.describe()));

    pgdump::RestoreOptions ro = options.restore;
    if (!ro.tools_dir && !ro.tools && im.config.db) ro.tools_dir = im.config.db->tools_dir;
    if (ro.temp_dir.empty()) ro.temp_dir = im.config.temp_dir;
    // The proof follows the application profile unless the caller chose one.
    const pgdump::ProofOptions default_proof;
    if (ro.proof.table_pattern == default_proof.table_pattern &&
        ro.proof.min_tables == default_proof.min_tables) {
        ro.proof.table_pattern = im.config.profile.table_like_pattern();
        ro.proof.min_tables = im.config.profile.min_restored_tables;
    }
    if (!options.exclude.empty() && ro.list)
        throw ConfigError("give either TOC exclusions or a pg_restore list, not both");
    for (const auto& rule : options.exclude) pgdump::parse_rule(rule);  // bad rules fail first

    im.check_cancel("starting the restore");
    auto raw = im.store->get(entry.key);
    detail::CheckedSource checked(*raw, entry.key, expectation(recorded), im.config.cancel,
                                  [&im, size = entry.size](std::uint64_t n) {
                                      im.emit({Event::Kind::progress, "db", "restoring", n, size});
                                  });
    try {
        if (options.exclude.empty()) return pgdump::restore(checked, ro);
        // pg_restore reads its -L list before the archive: read the TOC off the head of the
        // stream first, build the list, then replay the head and stream the rest.
        auto peeked = detail::peek_toc(checked, entry.key);
        ro.list = detail::exclusion_list(peeked.toc, options.exclude);
        im.info("db", fmt::format("TOC read ({} entries), {} exclusion rule(s) applied",
                                  peeked.toc.entries.size(), options.exclude.size()));
        detail::ReplaySource replay(std::move(peeked.head), checked);
        return pgdump::restore(replay, ro);
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
        if (!options.confirm_non_empty && !directory_is_empty(target))
            throw ConfigError("refusing to restore into " + target.string() +
                              ": it is not empty; confirm explicitly to replace its content");
    }
    if (options.extract.in_place && !options.extract.subtree.empty())
        throw ConfigError("an in-place restore of a subtree is not supported");

    const ListReport listing = im.scan(Impl::ManifestLoad::none);
    const BackupEntry entry = im.find_backup(listing, "docs", options.which);
    const auto recorded = recorded_half(im, listing, entry);
    const auto kind = parse_store_key(entry.key);
    im.info("docs", fmt::format("restoring {} ({} bytes, {}{}) into {}", entry.key, entry.size,
                                kind && kind->kind == ObjectKind::docs_tar_zst ? "zstd" : "gzip",
                                recorded ? ", SHA-256 checked before the swap" : ", no manifest",
                                target.string()));
    im.check_cancel("starting the restore");

    DocsRestoreReport rep;
    rep.key = entry.key;
    auto raw = im.store->get(entry.key);
    detail::CheckedSource checked(
        *raw, entry.key, expectation(recorded), im.config.cancel,
        [&im, size = entry.size](std::uint64_t n) {
            im.emit({Event::Kind::progress, "docs", "restoring", n, size});
        });
    try {
        // The old scripts archived the folder itself ("documents/..."): look at the first
        // entry, then replay what that took.
        tarball::ExtractOptions xo = options.extract;
        detail::RecordingSource rec(checked, std::size_t{64} << 20);
        std::string first;
        try {
            tarball::list_tar(rec, [](const tarball::Entry& e) { throw FirstEntrySeen{e.path}; });
        } catch (const FirstEntrySeen& seen) {
            first = seen.path;
        }
        const bool old_layout =
            !recorded && (first == "documents" || first.rfind("documents/", 0) == 0);
        if (old_layout && xo.strip_components == 0) {
            xo.strip_components = 1;
            im.info("docs", "archive of the old scripts: leading documents/ stripped");
        }
        detail::ReplaySource replay(rec.take(), checked);
        rep.summary = tarball::extract_tar(replay, target, xo);
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
    im.info("docs", fmt::format("restored {} files, {} directories, {} bytes", rep.summary.files,
                                rep.summary.directories, rep.summary.content_bytes));
    return rep;
}

}  // namespace dolibak::job
