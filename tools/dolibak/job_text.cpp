#include "job_text.hpp"

#include "job_cli.hpp"

#include <dolibak/core/text.hpp>

#include <fmt/core.h>

#include <map>
#include <set>

namespace dolibak::cli::text {

namespace {

std::string when(TimePoint t) {
    return t == TimePoint{} ? "-" : format_rfc3339(t);
}

// "packs: would delete 2 packs (3.9 MiB), repack 1 (...)", then one line per pack and record.
std::string packs_lines(const job::PruneReport& r) {
    if (!r.packs_error.empty()) return "packs: not previewed: " + r.packs_error + "\n";
    if (!r.packs) return {};
    const auto& c = *r.packs;
    const bool would = r.dry_run;
    std::string s =
        fmt::format("packs: {} {} ({})", would ? "would delete" : "deleted",
                    count_noun(c.deleted.size(), "pack"), human_bytes(c.deleted_bytes()));
    if (c.repacked.empty())
        s += would ? ", repack none" : ", repacked none";
    else
        s += fmt::format(", {} {} ({}, {} of it live)", would ? "repack" : "repacked",
                         c.repacked.size(), human_bytes(c.repacked_bytes()),
                         human_bytes(c.repacked_live_bytes()));
    if (!would && !c.repacked.empty())
        s += fmt::format(" into {} ({})", count_noun(c.written.size(), "new pack"),
                         human_bytes(c.bytes_written));
    s += fmt::format(", {} {}; {} kept, referenced by {}\n", would ? "delete" : "deleted",
                     count_noun(c.records_deleted.size(), "move record"), human_bytes(c.kept_bytes),
                     count_noun(c.indexes, "index", "indexes"));
    for (const auto& p : c.deleted)
        s += fmt::format("  delete  {}  {}\n", p.key, human_bytes(p.bytes));
    for (const auto& p : c.repacked)
        s += fmt::format("  repack  {}  {} ({} live)\n", p.key, human_bytes(p.bytes),
                         human_bytes(p.live));
    for (const auto& k : c.records_deleted) s += fmt::format("  delete  {}\n", k);
    for (const auto& p : c.problems) s += "  problem: " + p + "\n";
    return s;
}

std::string prune_lines(const job::PruneReport& r) {
    std::string s;
    std::string last_half;
    for (const auto& d : r.plan.decisions) {
        const auto b = r.plan.backup(d).to_backup();
        if (b.half != last_half) {
            last_half = b.half;
            s += fmt::format("[{}]\n", last_half);
        }
        std::string reasons;
        for (const auto reason : d.reasons)
            reasons += (reasons.empty() ? "" : ",") + std::string(retention::to_string(reason));
        const auto object = r.objects.find(b.key);
        const std::string names =
            object == r.objects.end() || object->second == b.key
                ? std::string()
                : "  (" + (object->second.empty() ? std::string("failed") : object->second) + ")";
        s += fmt::format("  {}  {}{}  {:<22} {}\n", d.keep ? "keep" : "DROP", b.key, names,
                         d.keep ? reasons : std::string("-"), r.plan.detail(d));
    }
    s += fmt::format("{} kept, {} dropped; {} {}",
                     count_noun(r.plan.kept(), "run half", "run halves"), r.plan.dropped(),
                     count_noun(r.to_delete.size(), "object"),
                     r.dry_run ? "would be deleted (dry run)" : "to delete");
    if (!r.dry_run) s += fmt::format(", {} deleted", r.deleted.size());
    s += "\n";
    s += packs_lines(r);
    for (const auto& f : r.failures)
        s += fmt::format("  FAILED to delete {}: {}\n", f.key, f.message);
    return s;
}

}  // namespace

namespace {

// "  left out: */temp/* 12 files 1.2 MiB, /dolibarr.log 0 files" (every pattern, so that
// what is excluded is visible even when it matched nothing).
std::string exclusion_line(const std::vector<tarball::Exclusion>& xs, const char* indent) {
    if (xs.empty()) return {};
    std::string s = std::string(indent) + "left out by the excludes:";
    for (std::size_t i = 0; i < xs.size(); ++i)
        s += fmt::format("{} {} {} {}", i == 0 ? "" : ",", xs[i].pattern,
                         count_noun(xs[i].files, "file"), human_bytes(xs[i].bytes));
    return s + "\n";
}

}  // namespace

std::string backup(const job::BackupReport& r) {
    std::string s = fmt::format("run {}{}\n", when(r.time),
                                r.manifest_key.empty() ? "" : "  manifest " + r.manifest_key);
    for (const auto& h : r.halves) {
        s += fmt::format("  {:<8} {:<13} {:<40} {:>10}  {:>7}", h.half, job::to_string(h.outcome),
                         h.key.empty() ? "-" : h.key, h.bytes ? human_bytes(h.bytes) : "-",
                         human_seconds(h.seconds));
        if (!h.reason.empty()) s += "  " + h.reason;
        if (!h.error.empty()) s += "  error: " + h.error;
        s += "\n";
        s += exclusion_line(h.exclusions, "           ");
    }
    s += fmt::format("{} in {}\n", r.ok() ? "ok" : "FAILED", human_seconds(r.seconds));
    if (r.prune) s += "prune:\n" + prune_lines(*r.prune);
    if (!r.prune_error.empty()) s += "prune: not done: " + r.prune_error + "\n";
    return s;
}

std::string prune(const job::PruneReport& r) {
    return prune_lines(r);
}

std::string list(const job::ListReport& r) {
    // How each object was used by the runs: uploaded by one, found unchanged by others.
    std::map<std::string, int> unchanged;
    std::map<std::string, bool> uploaded;
    for (const auto& run : r.runs) {
        if (!run.loaded) continue;
        for (const auto& [half, h] : run.manifest.halves) {
            if (h.key.empty()) continue;
            if (h.status == catalog::ManifestHalf::Status::unchanged) ++unchanged[h.key];
            if (h.status == catalog::ManifestHalf::Status::uploaded) uploaded[h.key] = true;
        }
    }
    std::string s = fmt::format("{:<22} {:<8} {:>10}  {:<10} {:<9} {:<17} {}\n", "TIME", "HALF",
                                "SIZE", "UPLOADED", "UNCHANGED", "MANIFEST", "VERIFIED");
    bool old_scripts = false;
    for (const auto& b : r.backups) {
        const bool old = !b.has_manifest;
        old_scripts = old_scripts || old;
        // The newest `dolibak verify` that read it back: its result and day.
        const std::string verified = b.verified
                                         ? fmt::format("{} {}", b.verified->ok ? "ok" : "FAILED",
                                                       format_rfc3339(b.verified->at).substr(0, 10))
                                         : "-";
        s += fmt::format("{:<22} {:<8} {:>10}  {:<10} {:<9} {:<17} {}\n", when(b.time), b.half,
                         human_bytes(b.size), uploaded.count(b.key) ? "yes" : (old ? "-" : "no"),
                         unchanged.count(b.key)
                             ? count_noun(static_cast<std::uint64_t>(unchanged[b.key]), "run")
                             : "-",
                         old ? "no (old scripts)" : "yes", verified);
    }
    if (r.backups.empty()) s += "(no backups)\n";
    if (!r.runs.empty()) {
        s += fmt::format("\n{:<22} {:<7} {}\n", "RUN", "RESULT", "HALVES");
        for (const auto& run : r.runs) {
            std::string halves;
            if (run.loaded)
                for (const auto& [half, h] : run.manifest.halves)
                    halves += (halves.empty() ? "" : ", ") + half + " " +
                              std::string(to_string(h.status));
            s += fmt::format("{:<22} {:<7} {}\n", when(run.time),
                             !run.loaded                ? "?"
                             : run.manifest.succeeded() ? "ok"
                                                        : "FAILED",
                             run.loaded ? halves : "(manifest unreadable)");
            if (run.loaded)
                if (const auto d = run.manifest.halves.find("docs"); d != run.manifest.halves.end())
                    s += exclusion_line(job::recorded_exclusions(d->second.archive_summary_json),
                                        "  docs ");
        }
    }
    s += fmt::format("\n{}, {}", count_noun(r.backups.size(), "backup object"),
                     count_noun(r.runs.size(), "run"));
    if (old_scripts) s += "; objects without a manifest were left by the old scripts";
    if (!r.other.empty())
        s += fmt::format("; {} ignored", count_noun(r.other.size(), "other object"));
    return s + "\n";
}

std::string verify(const job::VerifyReport& r) {
    std::string s = fmt::format("run {}\n", when(r.time));
    for (const auto& o : r.objects) {
        s += fmt::format("  {:<8} {:<5} {:<40} {:>10}  {}\n", o.half, o.ok ? "ok" : "BAD", o.key,
                         human_bytes(o.bytes), o.ok ? o.sha256 : o.problem);
        s += exclusion_line(o.exclusions, "           ");
    }
    if (r.quick) {
        s += r.ok() ? "quick verify: every object present with its size (bytes not read; not "
                      "recorded)\n"
                    : "QUICK VERIFICATION FAILED\n";
        return s;
    }
    s += r.ok() ? "verified: every byte checked\n" : "VERIFICATION FAILED\n";
    s += r.record_key.empty() ? "(the result could not be recorded in the store)\n"
                              : "recorded in " + r.record_key + " (dolibak list shows it)\n";
    return s;
}

std::string restore_db(const pgdump::RestoreReport& r) {
    std::string s;
    if (r.safety_dump) s += "safety dump of the target: " + r.safety_dump->string() + "\n";
    s += fmt::format("restored: {} checked, {} with the archive's row count",
                     count_noun(r.tables.size(), "table"), r.rows_matched());
    if (r.present_only() > 0)
        s += fmt::format(", {} present (no row count in the archive: rows not proven)",
                         r.present_only());
    return s + fmt::format(
                   "; {} in the database\n",
                   count_noun(static_cast<std::uint64_t>(r.pattern_tables), "application table"));
}

std::string restore_docs(const job::DocsRestoreReport& r) {
    std::string s = fmt::format(
        "restored {}: {}, {}, {}, {}\n", r.key, count_noun(r.summary.files, "file"),
        count_noun(r.summary.directories, "directory", "directories"),
        count_noun(r.summary.symlinks, "symlink"), human_bytes(r.summary.content_bytes));
    for (const auto& m : r.missing_required) s += "  MISSING required document: " + m + "\n";
    return s;
}

std::string status(const job::StatusReport& r, double max_age_seconds) {
    std::string s;
    if (r.last_run)
        s +=
            fmt::format("last run:     {}{}\n", when(r.last_run->time),
                        r.last_run->loaded && !r.last_run->manifest.succeeded() ? " (FAILED)" : "");
    else
        s += "last run:     none\n";
    if (r.last_success)
        s += fmt::format("last success: {} ({} ago)\n", when(r.last_success->time),
                         human_seconds(r.age_seconds.value_or(0)));
    else
        s += "last success: none\n";
    for (const auto& h : r.halves)
        s += fmt::format("  {:<5} last success: {}{}\n", h.half + ":",
                         h.last_success
                             ? fmt::format("{} ({} ago)", when(*h.last_success),
                                           human_seconds(h.age_seconds.value_or(0)))
                             : std::string("none within ") + human_seconds(max_age_seconds),
                         h.stale ? "  STALE" : "");
    if (r.last_verification)
        s += fmt::format("last verify:  {} of the run {} ({} ago)\n",
                         r.last_verification->ok ? "ok" : "FAILED", when(r.last_verification->run),
                         human_seconds(r.last_verification->age_seconds));
    else
        s += "last verify:  none recorded\n";
    if (!r.future_runs.empty())
        s += fmt::format("STALE: {}\n", r.reason);
    else if (r.stale && r.last_success && r.age_seconds && *r.age_seconds <= max_age_seconds)
        s += fmt::format("STALE: {}\n", r.reason);  // a half is stale
    else
        s += r.stale ? fmt::format("STALE: no success within {}\n", human_seconds(max_age_seconds))
                     : std::string("fresh\n");
    return s;
}

std::string check(const job::CheckReport& r) {
    std::string s;
    for (const auto& i : r.items)
        s += fmt::format("  {:<4} {:<24} {}\n", i.ok ? "ok" : "FAIL", i.name, i.detail);
    s += r.ok() ? "all checks passed\n" : "SOME CHECKS FAILED\n";
    return s;
}

std::string refresh(const job::RefreshReport& r) {
    std::string s = restore_db(r.restore);
    if (r.docs)
        s += fmt::format("documents: {}, {}\n", count_noun(r.docs->files, "file"),
                         human_bytes(r.docs->content_bytes));
    s += fmt::format("post hook exit status: {}\n", r.post_hook_exit);
    return s;
}

}  // namespace dolibak::cli::text
