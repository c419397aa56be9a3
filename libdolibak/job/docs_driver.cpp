// The real documents driver: the tree's fingerprint (fingerprint/docs), the sorted tar writer
// (gzip or zstd), the lister for stored archives and the safe extractor; with docs_mode packs,
// the packs writer, verifier and restore (docs/packs.md).
#include "job/ops_streams.hpp"
#include "job/real_drivers.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/tarball/lister.hpp>
#include <dolibak/tarball/writer.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace dolibak::job::detail {

namespace {

// Thrown by the first-entry peek to stop listing.
struct FirstEntrySeen {
    std::string path;
};

class RealDocuments final : public DocumentsDriver {
public:
    RealDocuments(const Config& c, store::Store& store)
        : settings_(c.docs),
          profile_(c.profile),
          excludes_(document_excludes(c)),
          temp_dir_(c.temp_dir),
          store_(store) {}

    catalog::ObjectKind object_kind() const override {
        if (packs_mode()) return catalog::ObjectKind::docs_index;
        return compression() == tarball::Compression::zstd ? catalog::ObjectKind::docs_tar_zst
                                                           : catalog::ObjectKind::docs_tar_gz;
    }
    std::string format() const override {
        if (packs_mode()) return "packs";
        // "tar.gz", "tar.zst" or "tar": the object's file extension without its dot.
        return tarball::file_extension(compression()).substr(1);
    }

    void validate() const override {
        const auto& s = configured();
        std::error_code ec;
        if (!std::filesystem::is_directory(s.root, ec))
            throw ConfigError(
                "docs_dir: the documents directory " + s.root.string() +
                (std::filesystem::exists(s.root, ec) ? " is not a directory" : " does not exist"));
    }

    LiveFingerprint fingerprint(const DriverContext& ctx) override {
        validate();  // a backup has called it already; other callers get the same check
        const auto& s = configured();
        if (!s.allow_missing_required) {
            std::error_code ec;
            if (std::filesystem::directory_iterator(s.root, ec) ==
                    std::filesystem::directory_iterator() &&
                !ec)
                throw Error("the documents directory " + s.root.string() +
                            " is empty: is its volume mounted? (docs_allow_missing_required "
                            "backs it up anyway)");
            for (const auto& r : profile_.required_documents)
                if (!std::filesystem::exists(std::filesystem::symlink_status(s.root / r, ec)))
                    throw Error("the documents directory " + s.root.string() + " lacks " + r +
                                ", which the " + profile_.name +
                                " profile requires: is it the right directory, is its volume "
                                "mounted? (docs_allow_missing_required backs it up anyway)");
        }
        fingerprint::DocsOptions fo;
        fo.excludes = excludes_;
        fo.excludes.insert(fo.excludes.end(), profile_.fingerprint_excludes.begin(),
                           profile_.fingerprint_excludes.end());
        fo.content = s.content_fingerprint;
        fo.skip_unreadable = s.skip_unreadable;
        ctx.info("fingerprinting " + s.root.string());
        const auto fp = fingerprint::docs_fingerprint(s.root, fo);
        if (fp.unreadable > 0)
            ctx.warn(fmt::format("{} unreadable entr{} left out (skip_unreadable)", fp.unreadable,
                                 fp.unreadable == 1 ? "y" : "ies"));
        return {fp.sha256, fo.content ? "content" : "metadata", {}, {}};
    }

    void use_packs(bool packs) override { packs_ = packs; }

    Produced produce(io::Sink& sink, const DriverContext& ctx) override {
        if (packs_mode()) return produce_packs(sink, ctx);
        const auto& s = configured();
        tarball::WriteOptions w;
        w.compression = s.compression;
        w.level = s.level;
        w.threads = s.threads;
        w.excludes = excludes_;
        w.skip_unreadable = s.skip_unreadable;
        // Same tree, same bytes: no time stamp in the gzip header, owners as root (owners are
        // never restored), so an unchanged tree archived twice gives the same object.
        w.reproducible = true;
        w.on_warning = [&ctx](const tarball::Warning& warning) {
            ctx.warn(warning.path + ": " + warning.message);
        };
        tarball::WriteSummary written;
        try {
            written = tarball::write_tar(s.root, sink, w);
            sink.finish();  // the writer leaves finishing to its caller
        } catch (...) {
            sink.abort();
            throw;
        }
        const nlohmann::json summary = {{"entries", written.entries},
                                        {"files", written.files},
                                        {"directories", written.directories},
                                        {"symlinks", written.symlinks},
                                        {"excluded", written.excluded},
                                        {"content_bytes", written.content_bytes},
                                        {"warnings", written.warnings.size()},
                                        {"exclusions", exclusions_json(written.exclusions)}};
        Produced p;
        p.summary_json = summary.dump();
        p.detail = count_noun(written.files, "file");
        say_exclusions(written.exclusions, ctx);
        return p;
    }

    std::vector<std::string> check_object(io::Source& object, const std::string& key,
                                          const DriverContext& ctx) override {
        if (is_index(key)) {
            const auto r = packs::verify_run(store_, object, !ctx.quick, pack_identities(key, ctx));
            ctx.info(fmt::format("{}: {} {} in {} ({} bytes {})", key, count_noun(r.blobs, "blob"),
                                 ctx.quick ? "located" : "checked", count_noun(r.packs, "pack"),
                                 r.pack_bytes, ctx.quick ? "seen" : "read"));
            return r.problems;
        }
        std::vector<std::string> problems;
        try {
            const auto s = tarball::list_tar(object);
            if (s.entries == 0) problems.push_back("tar archive holds no entry");
        } catch (const FormatError& e) {
            problems.push_back(std::string("tar archive: ") + e.what());
        }
        return problems;
    }

    tarball::ExtractSummary restore(io::Source& object, const std::string& key,
                                    const std::filesystem::path& target,
                                    const RestoreDocsOptions& options, bool recorded,
                                    const DriverContext& ctx) override {
        if (is_index(key))
            return packs::restore_tree(store_, object, target, options.extract,
                                       pack_identities(key, ctx));
        // The old scripts archived the folder itself ("documents/..."): look at the first
        // entry, then replay what that took.
        tarball::ExtractOptions xo = options.extract;
        io::RecordingSource rec(object, std::size_t{64} << 20);
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
            ctx.info("archive of the old scripts: leading documents/ stripped");
        }
        io::ReplaySource replay(rec.take(), object);
        return tarball::extract_tar(replay, target, xo);
    }

private:
    /// What each exclude pattern left out, for the manifest's summary (recorded_exclusions
    /// reads it back), in both modes.
    static nlohmann::json exclusions_json(const std::vector<tarball::Exclusion>& exclusions) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& x : exclusions)
            out.push_back({{"pattern", x.pattern}, {"files", x.files}, {"bytes", x.bytes}});
        return out;
    }
    /// The log line of what the excludes left out (none when they left out nothing).
    static void say_exclusions(const std::vector<tarball::Exclusion>& exclusions,
                               const DriverContext& ctx) {
        std::uint64_t files = 0, bytes = 0;
        std::string what;
        for (const auto& x : exclusions) {
            files += x.files;
            bytes += x.bytes;
            if (x.files > 0)
                what += fmt::format("{}{} {} {}", what.empty() ? "" : ", ", x.pattern,
                                    count_noun(x.files, "file"), count_noun(x.bytes, "byte"));
        }
        if (files > 0)
            ctx.info(fmt::format("left out by the excludes: {}, {} ({})", count_noun(files, "file"),
                                 count_noun(bytes, "byte"), what));
    }

    static bool is_index(const std::string& key) {
        const auto k = catalog::parse_store_key(key);
        return k && k->kind == catalog::ObjectKind::docs_index;
    }
    /// As the job chose (use_packs); before it did, as configured (auto: packs, as for a new
    /// store).
    bool packs_mode() const {
        if (!settings_) return false;
        return packs_ ? *packs_ : settings_->mode != DocsMode::tar;
    }

    /// The packs of an encrypted run are encrypted: the identities that open them (a
    /// ConfigError naming age_identity_file when none is given); nullptr for a run in the clear.
    static const io::AgeIdentities* pack_identities(const std::string& key,
                                                    const DriverContext& ctx) {
        if (!is_encrypted_object(key)) return nullptr;
        if (!ctx.identities)
            throw ConfigError(key +
                              " is encrypted: its packs need an age identity "
                              "(age_identity_file)");
        return &ctx.identities("reading the packs of " + key);
    }

    /// The newest index in the store written as this run writes (both encrypted, or both
    /// in the clear: a run never references the other kind's packs), decrypted when it is
    /// encrypted; its content is not uploaded again. Null when there is none.
    struct PreviousIndex {
        std::unique_ptr<io::Source> stored;
        std::unique_ptr<ObjectContent> content;
    };
    PreviousIndex previous_index(const DriverContext& ctx) {
        const bool encrypted = ctx.encrypt_to.has_value();
        PreviousIndex p;
        try {
            std::string newest;
            for (const auto& o : store_.list("docs/"))
                if (is_index(o.key) && is_encrypted_object(o.key) == encrypted)
                    newest = o.key;  // sorted: the last is the newest
            if (newest.empty()) return p;
            ctx.info("new content only: comparing with " + newest);
            p.stored = store_.get(newest);
            p.content = std::make_unique<ObjectContent>(*p.stored, pack_identities(newest, ctx));
        } catch (const ConfigError&) {
            throw;  // no identity: a configuration to fix, not a run to upload in full
        } catch (const Error& e) {
            ctx.warn(std::string("no previous index (everything is uploaded): ") + e.what());
            return {};
        }
        return p;
    }

    Produced produce_packs(io::Sink& sink, const DriverContext& ctx) {
        const auto& s = configured();
        packs::WriterOptions w;
        w.excludes = excludes_;
        if (s.level > 0) w.level = s.level;
        w.threads = static_cast<unsigned>(std::max(s.threads, 0));
        w.temp_dir = temp_dir_;
        w.cancel = ctx.cancel;
        w.encrypt_to = ctx.encrypt_to;
        w.skip_unreadable = s.skip_unreadable;
        w.index_version = s.packs_index_version;
        w.on_warning = [&ctx](const std::string& warning) { ctx.warn(warning); };
        packs::WriterSummary written;
        try {
            auto previous = previous_index(ctx);
            // An encrypted previous index: the move records of its repacked packs are too.
            if (previous.content && previous.content->decrypted())
                w.identities = &ctx.identities("following the move records of repacked packs");
            // The run's time stamp names the index; the sink's key holds it already.
            written =
                packs::write_tree(store_, s.root, sink, "",
                                  previous.content ? &previous.content->source() : nullptr, w);
        } catch (...) {
            sink.abort();
            throw;
        }
        const nlohmann::json summary = {{"entries", written.totals.entries},
                                        {"files", written.totals.files},
                                        {"content_bytes", written.totals.bytes},
                                        {"files_read", written.files_read},
                                        {"blobs_new", written.blobs_new},
                                        {"bytes_new", written.bytes_new},
                                        {"packs_uploaded", written.packs_uploaded},
                                        {"pack_bytes", written.pack_bytes},
                                        {"pieces_new", written.pieces_new},
                                        {"piece_bytes", written.piece_bytes},
                                        {"pieces_kept", written.pieces_kept},
                                        {"excluded", written.excluded},
                                        {"exclusions", exclusions_json(written.exclusions)}};
        ctx.info(fmt::format(
            "{} new ({}) in {}; the index: {} stored ({}), {} kept",
            count_noun(written.blobs_new, "blob"), count_noun(written.bytes_new, "byte"),
            count_noun(written.packs_uploaded, "pack"), count_noun(written.pieces_new, "piece"),
            count_noun(written.piece_bytes, "byte"), written.pieces_kept));
        Produced p;
        p.summary_json = summary.dump();
        p.detail = count_noun(written.totals.files, "file");
        say_exclusions(written.exclusions, ctx);
        return p;
    }

    tarball::Compression compression() const {
        return settings_ ? settings_->compression : DocumentsSettings{}.compression;
    }
    const DocumentsSettings& configured() const {
        if (!settings_) throw ConfigError("no documents directory is configured");
        return *settings_;
    }

    std::optional<DocumentsSettings> settings_;
    std::optional<bool> packs_;  ///< use_packs
    Profile profile_;
    std::vector<std::string> excludes_;
    std::filesystem::path temp_dir_;
    store::Store& store_;
};

}  // namespace

std::unique_ptr<DocumentsDriver> make_real_documents(const Config& config, store::Store& store) {
    return std::make_unique<RealDocuments>(config, store);
}

}  // namespace dolibak::job::detail
