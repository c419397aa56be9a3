// dolibak plan: offline retention planning. Reads backups (store keys or time stamps, one per
// line, optionally followed by ok|failed and verified-ok|verified-failed) on stdin and prints
// which to keep, which to drop, and why. docs/retention.md describes the policies.
#include "command.hpp"

#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/retention/timezone.hpp>

#include <fmt/core.h>

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace dolibak::cli {
namespace {

struct PlanOptions {
    std::string now;
    std::string half = "db";
    std::string zone = "UTC";
    std::string mode;
    bool json = false;
    bool no_keep_oldest = false;
    std::optional<int> daily_days, monthly_months, yearly_years;
    std::optional<std::string> last, hourly, daily, weekly, monthly, yearly;
    std::vector<std::string> protect;
};

std::optional<int> count_value(const std::optional<std::string>& v, const char* flag) {
    if (!v) return std::nullopt;
    if (auto n = retention::parse_count(*v)) return n;
    throw ConfigError(std::string("--") + flag + " expects a count >= 0 or 'unlimited', not '" +
                      *v + "'");
}

retention::Policy make_policy(const PlanOptions& o) {
    retention::PolicySpec spec;
    if (!o.mode.empty()) spec.mode = o.mode;
    spec.daily_days = o.daily_days;
    spec.monthly_months = o.monthly_months;
    spec.yearly_years = o.yearly_years;
    spec.last = count_value(o.last, "keep-last");
    spec.hourly = count_value(o.hourly, "keep-hourly");
    spec.daily = count_value(o.daily, "keep-daily");
    spec.weekly = count_value(o.weekly, "keep-weekly");
    spec.monthly = count_value(o.monthly, "keep-monthly");
    spec.yearly = count_value(o.yearly, "keep-yearly");
    if (o.no_keep_oldest) spec.keep_oldest_if_unfilled = false;
    spec.time_zone = o.zone;
    return retention::build_policy(spec, retention::Spelling::cli);
}

int run_plan(const PlanOptions& o) {
#ifdef __GLIBC__
    // A short run that allocates a few large arrays and frees some before making others: keep
    // them on the heap and the freed pages for reuse, instead of fresh mappings whose every page
    // faults in zeroed (page faults were a large part of a long list's time).
    ::mallopt(M_MMAP_THRESHOLD, 256 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
    ::mallopt(M_TOP_PAD, 16 << 20);
#endif
    const retention::Policy policy = make_policy(o);
    const TimePoint now =
        o.now.empty() ? std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())
                      : parse_timestamp(o.now);
    std::string input;
    {
        // The whole of stdin, read straight into one string (sized up front for a file, with
        // room for the read that finds its end: without it, that read would double the
        // string, copying the whole input, and keep twice its size until it is freed).
        struct stat st {};
        if (::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
            input.reserve(static_cast<std::size_t>(st.st_size) + 64 * 1024);
        std::size_t used = 0;
        for (;;) {
            if (input.capacity() - used < 64 * 1024)
                input.reserve(2 * input.capacity() + 64 * 1024);
            input.resize(input.capacity());
            const ssize_t got = ::read(STDIN_FILENO, input.data() + used, input.size() - used);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) throw IoError("cannot read the backup list", "stdin", errno);
            if (got == 0) break;
            used += static_cast<std::size_t>(got);
        }
        input.resize(used);
    }
    std::size_t manifests = 0;
    // The list keeps the input as the text its keys are parts of: no key is copied.
    auto backups = catalog::read_backup_list(std::move(input), o.half, &manifests);
    const std::set<std::string> protect(o.protect.begin(), o.protect.end());
    const auto plan = retention::plan(std::move(backups), now, policy, protect);
    const auto write = [](std::string_view piece) {
        if (std::fwrite(piece.data(), 1, piece.size(), stdout) != piece.size())
            throw IoError("cannot write the plan", "stdout", errno);
    };
    if (o.json) {
        // Streamed: the JSON of a large plan is never held whole.
        retention::write_json(plan, write);
        write("\n");
        return exit_ok;
    }
    // One line per decision, written at a cursor into a buffer that goes out in pieces of
    // about 64 KiB: each line's room is checked once (its key, half and detail bound), then
    // its pieces are copied without a check or a call each.
    constexpr std::size_t flush_at = 64 * 1024;
    constexpr std::size_t line_fixed = 512;  // "keep  ", 15 reasons' names, separators
    std::vector<char> buf(flush_at + line_fixed + 4096);
    char* p = buf.data();
    const auto put = [&p](std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    };
    const auto flush = [&] {
        write(std::string_view(buf.data(), static_cast<std::size_t>(p - buf.data())));
        p = buf.data();
    };
    put(fmt::format("policy: {}\nnow:    {}\n", retention::describe(policy), format_rfc3339(now)));
    std::string_view last_half;
    std::size_t by_reason[static_cast<int>(retention::Reason::failed_recent) + 1] = {};
    const std::size_t lines = plan.decisions.size();
    for (std::size_t k = 0; k < lines; ++k) {
        const auto& d = plan.decisions[k];
        const retention::BackupView b = plan.backup(d);
        // The backups come in order, their keys' bytes (in the input's order) do not: ask for
        // a later line's key ahead, so that copying it does not wait for memory.
        if (k + 16 < lines) __builtin_prefetch(plan.backups.key(k + 16).data());
        const std::size_t room =
            line_fixed + b.half.size() + b.key.size() + plan.detail_size_bound(d);
        if (static_cast<std::size_t>(buf.data() + buf.size() - p) < room) {
            flush();
            if (buf.size() < room) buf.resize(room);
        }
        if (b.half != last_half) {
            last_half = b.half;
            put("\n[");
            put(last_half);
            put("]\n");
        }
        // "{keep|drop}  {key}  {reasons or -, left-aligned in 20}  {detail}"
        put(d.keep ? std::string_view("keep  ") : std::string_view("drop  "));
        put(b.key);
        put("  ");
        char* const why = p;
        for (const auto r : d.reasons) {
            ++by_reason[static_cast<int>(r)];
            if (!d.keep) continue;
            if (p != why) *p++ = ',';
            put(retention::to_string(r));
        }
        if (!d.keep) *p++ = '-';
        if (p - why < 20) {
            std::memset(p, ' ', static_cast<std::size_t>(20 - (p - why)));
            p = why + 20;
        }
        put("  ");
        p = plan.write_detail(p, d);
        *p++ = '\n';
        if (static_cast<std::size_t>(p - buf.data()) >= flush_at) flush();
    }
    // The reasons' counts in the order of their names.
    std::vector<std::pair<std::string_view, std::size_t>> counts;
    for (int r = 0; r <= static_cast<int>(retention::Reason::failed_recent); ++r)
        if (by_reason[r])
            counts.emplace_back(retention::to_string(static_cast<retention::Reason>(r)),
                                by_reason[r]);
    std::sort(counts.begin(), counts.end());
    std::string summary;
    for (const auto& [name, n] : counts)
        summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", name, n);
    flush();
    write(fmt::format(
        "\n{} kept, {} dropped{}{}\n", plan.kept(), plan.dropped(),
        summary.empty() ? "" : " (reasons: " + summary + ")",
        manifests ? fmt::format("; {} ignored", count_noun(manifests, "manifest key")) : ""));
    return exit_ok;
}

const Registrar registrar{Command{
    "plan", [](CLI::App& app, auto set_action) {
        auto* sub = app.add_subcommand(
            "plan",
            "Plan retention offline: backups (keys or time stamps, one per line, optionally "
            "followed by ok|failed and verified-ok|verified-failed) on stdin; prints what to keep "
            "and drop, and why");
        auto o = std::make_shared<PlanOptions>();
        sub->add_option("--now", o->now, "Plan as of this time (YYYYMMDDTHHMMSSZ; default: now)");
        sub->add_option("--half", o->half, "Half of bare time stamps (default: db)");
        sub->add_option("--time-zone", o->zone,
                        "Calendar buckets in this zone: UTC, +02:00, or an IANA name "
                        "(default: UTC)");
        sub->add_option("--mode", o->mode, "tiered (default) or count (restic-style)")
            ->check(CLI::IsMember({"tiered", "count"}));
        sub->add_flag("--json", o->json, "Print the plan as JSON");
        sub->add_option("--protect", o->protect,
                        "A key that must be kept (e.g. named by the newest manifest); repeatable");
        sub->add_option("--keep-daily-days", o->daily_days,
                        "Tiered: the newest backup of each day for this many days (default 30)")
            ->check(CLI::NonNegativeNumber);
        sub->add_option("--keep-monthly-months", o->monthly_months,
                        "Tiered: newest per month back this many months (default 12)")
            ->check(CLI::NonNegativeNumber);
        sub->add_option("--keep-yearly-years", o->yearly_years,
                        "Tiered: newest per year back this many years (default 10)")
            ->check(CLI::NonNegativeNumber);
        sub->add_option("--keep-last", o->last, "Count: keep the N newest ('unlimited': all)");
        sub->add_option("--keep-hourly", o->hourly, "Count: newest of the N most recent hours");
        sub->add_option("--keep-daily", o->daily, "Count: newest of the N most recent days");
        sub->add_option("--keep-weekly", o->weekly, "Count: newest of the N most recent ISO weeks");
        sub->add_option("--keep-monthly", o->monthly, "Count: newest of the N most recent months");
        sub->add_option("--keep-yearly", o->yearly, "Count: newest of the N most recent years");
        sub->add_flag("--no-keep-oldest", o->no_keep_oldest,
                      "Count: do not keep the oldest backup when a rule has slots left "
                      "(restic <= 0.15 behaviour)");
        sub->callback([set_action, o] { set_action([o] { return run_plan(*o); }); });
    }}};

}  // namespace
}  // namespace dolibak::cli
