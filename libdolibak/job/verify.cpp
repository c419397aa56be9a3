// Job::verify: downloads every object of a run and checks every byte (or, quick, checks that
// each is present with its size, and that a packs index's packs are).
#include "job/job_impl.hpp"
#include "job/ops_streams.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/packs/pack_names.hpp>

#include <fmt/core.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>

namespace dolibak::job {

namespace {

struct Target {
    std::string half;
    std::string key;
    const catalog::ManifestHalf* recorded = nullptr;  ///< what the manifest says, when there is one
};

// Reads what is left of a source (so that the digest covers every byte).
void drain(io::Source& src) {
    std::vector<std::byte> buf(io::default_buffer_size);
    while (src.read(buf) > 0) {
    }
}

}  // namespace

// The evidence of a verification, `verified/<ts>.json`, which `list` shows per object. A store
// this identity may only read (a verification-only key) gets a warning, not a failure: the
// verification itself stands.
void Job::Impl::record(VerifyReport& report) {
    try {
        report.record_key =
            catalog->record_verification(report.time, now(), report.ok(), to_json(report));
        info("", "verification recorded in " + report.record_key);
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        warn("", std::string("the verification could not be recorded: ") + e.what());
    }
}

VerifyReport Job::Impl::verify(const std::string& which, const VerifyOptions& options) {
    Impl& im = *this;
    const ListReport listing = im.catalog->scan(catalog::Catalog::Load::none);
    VerifyReport report;
    report.quick = options.quick;

    // Which run: its manifest when there is one, else the objects of that time stamp (old
    // scripts). "latest" is the newest manifest, or without any, the newest object of each half.
    std::optional<catalog::Manifest> manifest;
    std::string manifest_key;
    std::vector<Target> targets;
    const std::optional<TimePoint> named = catalog::parse_run_name(which);
    if (!named) {
        if (!listing.runs.empty()) {
            manifest_key = listing.runs.back().manifest_key;
            report.time = listing.runs.back().time;
        } else {
            std::set<std::string> seen;
            for (auto it = listing.backups.rbegin(); it != listing.backups.rend(); ++it)
                if (seen.insert(it->half).second) targets.push_back({it->half, it->key, nullptr});
            if (targets.empty())
                throw ConfigError("nothing to verify: no backup in " + im.store().url());
            report.time = listing.backups.back().time;
        }
    } else {
        report.time = *named;
        for (const auto& run : listing.runs)
            if (run.time == report.time) manifest_key = run.manifest_key;
        if (manifest_key.empty()) {
            for (const auto& b : listing.backups)
                if (b.time == report.time) targets.push_back({b.half, b.key, nullptr});
            if (targets.empty())
                throw ConfigError("no run at " + which + " in " + im.store().url() +
                                  " (dolibak list shows what there is)");
        }
    }
    if (!manifest_key.empty()) {
        try {
            manifest = im.catalog->load_manifest(manifest_key);
        } catch (const Error& e) {
            // A broken manifest is itself a finding; the objects of its time are still checked
            // on their format.
            report.objects.push_back({manifest_key, "manifest", false, 0, "", e.what(), {}});
            for (const auto& b : listing.backups)
                if (b.time == report.time) targets.push_back({b.half, b.key, nullptr});
        }
    }
    if (manifest) {
        for (const auto& [half, h] : manifest->halves) {
            if (!h.key.empty()) {
                targets.push_back({half, h.key, &h});
            } else if (h.status == catalog::ManifestHalf::Status::failed) {
                VerifiedObject v;
                v.half = half;
                v.problem = "the run's " + half + " half failed, nothing was stored" +
                            (h.error.empty() ? std::string() : ": " + h.error);
                report.objects.push_back(std::move(v));
            }
        }
    }

    std::map<std::string, std::uint64_t> present;  // key -> size
    for (const auto& b : listing.backups) present.emplace(b.key, b.size);
    for (const auto& o : listing.other) present.emplace(o.key, o.size);

    for (const auto& t : targets) {
        im.check_cancel("verifying " + t.key);
        VerifiedObject v;
        v.key = t.key;
        v.half = t.half;
        const auto parsed = catalog::parse_store_key(t.key);
        const bool encrypted = parsed && parsed->encrypted;
        // A packs-mode run's index names its packs: without the identity they are not read.
        const bool packs_run = parsed && parsed->kind == catalog::ObjectKind::docs_index;
        // Without the identity an encrypted object's bytes are checked against the
        // manifest's digest (that is every byte); with it, its content too.
        const bool decrypt = encrypted && im.has_identities();
        if (t.recorded) {
            try {
                v.exclusions = recorded_exclusions(im.summary_of(*t.recorded));
            } catch (const Cancelled&) {
                throw;
            } catch (const Error& e) {
                v.problem = std::string("the manifest's sealed summary: ") + e.what();
            }
        }
        if (!present.count(t.key)) {
            v.problem = "missing from the store (named by " + manifest_key + ")";
            im.warn(t.half, t.key + ": " + v.problem);
            report.objects.push_back(std::move(v));
            continue;
        }
        // Quick: an object's size against the manifest's, without reading it; a packs index
        // is read (small), as it names the packs to look for.
        if (options.quick && !(parsed && parsed->kind == catalog::ObjectKind::docs_index)) {
            v.bytes = present.at(t.key);
            if (v.problem.empty() && t.recorded && t.recorded->bytes != v.bytes)
                v.problem = fmt::format("size {} differs from the manifest's {}", v.bytes,
                                        t.recorded->bytes);
            if (v.problem.empty() && !t.recorded)
                v.problem = "no manifest: a quick verify has no size to compare with";
            v.ok = v.problem.empty();
            if (v.ok) v.sha256 = t.recorded->sha256;  // recorded, not recomputed
            im.emit({v.ok ? Event::Kind::info : Event::Kind::warning, t.half,
                     v.ok ? fmt::format("{}: present, {} bytes as the manifest says (quick)", t.key,
                                        v.bytes)
                          : t.key + ": " + v.problem,
                     0, std::nullopt});
            report.objects.push_back(std::move(v));
            continue;
        }
        im.info(t.half, "verifying " + t.key);
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::string> problems;
        std::optional<packs::PackNamesCheck> packs_swept;
        try {
            auto raw = im.store().get(t.key);
            // No expectation here: the digest is compared below, so that a mismatch is a
            // finding together with what the format check says.
            const std::string half = t.half;
            detail::CheckedSource src(
                *raw, t.key, {}, im.config.cancel,
                [&im, half, size = present.at(t.key)](std::uint64_t n) {
                    im.emit({Event::Kind::progress, half, "verifying", n, size});
                });
            HalfDriver* driver = t.half == "db"     ? im.env->database()
                                 : t.half == "docs" ? im.env->documents()
                                                    : im.env->globals();
            if (!driver)
                throw ConfigError("the environment has no driver for the " + t.half + " half");
            if (!encrypted || decrypt) {
                detail::ObjectContent content(
                    src, decrypt ? &im.identities("verifying " + t.key) : nullptr);
                auto ctx = im.context(t.half);
                ctx.quick = options.quick;
                for (auto& p : driver->check_object(content.source(), t.key, ctx))
                    problems.push_back(std::move(p));
                if (content.decrypted())
                    drain(content.source());  // the rest authenticated, to the final chunk
            } else if (!t.recorded) {
                problems.push_back(
                    "encrypted, without a manifest's digest and without an identity "
                    "(age_identity_file): nothing could be checked");
            }
            drain(src);
            // Which packs an encrypted index uses is inside it; without the identity, every
            // encrypted pack in the store is checked against its name (the SHA-256 of its
            // stored bytes): every ciphertext byte the run can use, and more.
            // Not in a quick verify, which reads no pack: the packs are not located then.
            if (packs_run && encrypted && !decrypt && !options.quick) {
                auto swept = packs::check_pack_names(im.store(), true, im.config.cancel);
                for (auto& p : swept.problems) problems.push_back(std::move(p));
                packs_swept = swept;
            }
            v.bytes = src.bytes();
            v.sha256 = src.sha256();
            if (t.recorded) {
                if (t.recorded->bytes != v.bytes)
                    problems.insert(problems.begin(),
                                    fmt::format("size {} differs from the manifest's {}", v.bytes,
                                                t.recorded->bytes));
                if (!t.recorded->sha256.empty() && t.recorded->sha256 != v.sha256)
                    problems.insert(problems.begin(),
                                    fmt::format("SHA-256 {} differs from the manifest's {}",
                                                v.sha256, t.recorded->sha256));
            }
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            problems.push_back(e.what());
        }
        if (!v.problem.empty()) problems.insert(problems.begin(), v.problem);
        v.problem.clear();
        v.ok = problems.empty();
        for (const auto& p : problems) v.problem += (v.problem.empty() ? "" : "; ") + p;
        Event e{v.ok ? Event::Kind::info : Event::Kind::warning, t.half,
                v.ok ? fmt::format("{}: ok ({} bytes){}{}", t.key, v.bytes,
                                   t.recorded ? ", SHA-256 matches the manifest"
                                              : " (no manifest: format checked only)",
                                   decrypt ? ", decrypted and checked"
                                   : encrypted && packs_swept
                                       ? fmt::format(", encrypted: not decrypted (no identity "
                                                     "given); every encrypted pack in the store "
                                                     "({}, {} bytes) matches its name",
                                                     packs_swept->packs, packs_swept->bytes)
                                   : encrypted && packs_run && options.quick
                                       ? ", encrypted: not decrypted (no identity given), "
                                         "its packs not located (quick)"
                                   : encrypted ? ", encrypted: not decrypted (no identity given)"
                                               : "")
                     : t.key + ": " + v.problem,
                0, std::nullopt};
        e.key = t.key;
        e.size = v.bytes;
        e.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        e.outcome = v.ok ? "verified" : "failed";
        im.emit(std::move(e));
        report.objects.push_back(std::move(v));
    }
    // A quick verify is not evidence that the bytes were read back: it is not recorded.
    if (!options.quick) im.record(report);
    return report;
}

}  // namespace dolibak::job
