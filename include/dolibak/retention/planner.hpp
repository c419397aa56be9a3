#pragma once
// The retention planner: which backups to keep and which to drop, and why. Pure: no I/O and
// no clock; `now` is given. docs/retention.md describes both modes precisely.
//
// Tiered mode (the default): among backups at most 30 days old, the newest of each calendar
// day; then, among older ones, the newest of each calendar month back to 12 months; then,
// among those older still, the newest of each calendar year back to 10 years.
// Count mode (restic's `forget --keep-last/-hourly/-daily/-weekly/-monthly/-yearly`): the
// newest backup of each of the N most recent buckets that hold a backup, rules OR'ed.
//
// In every bucket of both modes the backup standing for it is the newest whose verification
// did not fail (see Backup::verified); one that failed verification stands only when all of
// the bucket's did.
//
// Invariants of both: the newest successful backup of each half (and, when its verification
// failed, also the newest successful one whose verification did not fail) and every protected
// key (the objects the newest manifest names) are kept; failed and future-dated backups never
// take a slot; a plan that would leave a half without any backup is refused.
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/backups.hpp>
#include <dolibak/retention/timezone.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::retention {

/// Tiered windows; 0 disables a tier.
struct DOLIBAK_API TieredPolicy {
    int daily_days = 30;  ///< newest per day among backups at most this many days old (24 h each)
    int monthly_months = 12;  ///< newest per month, back to now minus this many months
    int yearly_years = 10;    ///< newest per year, back to now minus this many years
};

/// restic-compatible counts: 0 = rule off, `unlimited` (-1) = every bucket.
struct DOLIBAK_API CountPolicy {
    static constexpr int unlimited = -1;
    int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
    /// restic >= 0.16.0: when a rule still has slots after the oldest backup, that oldest
    /// backup is kept too (even if its bucket was already taken). Off: restic <= 0.15.
    bool keep_oldest_if_unfilled = true;
    bool empty() const noexcept {
        return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0;
    }
};

struct DOLIBAK_API Policy {
    enum class Mode { tiered, count };
    Mode mode = Mode::tiered;
    TieredPolicy tiered;
    CountPolicy count;
    /// Calendar buckets (day, ISO week, month, year) in this zone's wall time.
    TimeZone zone;
};

/// Why a backup is kept.
enum class Reason {
    daily,           ///< tiered: newest of its day, at most daily_days old
    monthly,         ///< tiered: newest of its month in the monthly window
    yearly,          ///< tiered: newest of its year in the yearly window
    last,            ///< count: one of the `last` newest
    hourly,          ///< count: newest of one of the `hourly` most recent hours
    day,             ///< count: newest of one of the `daily` most recent days
    week,            ///< count: newest of one of the `weekly` most recent ISO weeks
    month,           ///< count: newest of one of the `monthly` most recent months
    year,            ///< count: newest of one of the `yearly` most recent years
    oldest,          ///< count: the oldest backup, kept while a rule has slots left (restic)
    empty_policy,    ///< count: no rule given, everything is kept (as restic)
    newest_success,  ///< invariant: the newest successful backup of its half, and the newest
                     ///< one whose verification did not fail
    protected_key,   ///< invariant: named by the newest manifest (or otherwise protected)
    future,          ///< dated after `now`: never dropped, never takes a slot
    failed_recent,   ///< failed, but not older than the newest success (kept as evidence)
};

/// "daily", "monthly", ..., "newest-success", "protected", "future", "failed-recent".
DOLIBAK_API std::string_view to_string(Reason r) noexcept;

/// The reasons of one decision, in the order they were given; a value (no heap): each
/// reason is 4 bits of one 64-bit word, so a decision holds every Reason at most once.
class DOLIBAK_API Reasons {
public:
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = Reason;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = Reason;
        iterator() = default;
        explicit iterator(std::uint64_t rest) noexcept : rest_(rest) {}
        Reason operator*() const noexcept { return static_cast<Reason>((rest_ & 15u) - 1); }
        iterator& operator++() noexcept {
            rest_ >>= 4;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto old = *this;
            rest_ >>= 4;
            return old;
        }
        bool operator==(const iterator& o) const noexcept { return rest_ == o.rest_; }

    private:
        std::uint64_t rest_ = 0;
    };
    iterator begin() const noexcept { return iterator(packed_); }
    iterator end() const noexcept { return iterator(0); }
    bool empty() const noexcept { return packed_ == 0; }
    std::size_t size() const noexcept;
    bool contains(Reason r) const noexcept;
    /// Adds `r` after the others, unless it is there already.
    void add(Reason r) noexcept;
    std::vector<Reason> to_vector() const { return {begin(), end()}; }
    bool operator==(const Reasons& o) const noexcept { return packed_ == o.packed_; }
    bool operator==(const std::vector<Reason>& v) const { return to_vector() == v; }

private:
    std::uint64_t packed_ = 0;  // reason + 1 per 4 bits, the first in the lowest; 0 ends
};

/// What the plan does with one backup: an index into Plan::backups, the verdict and its
/// reasons. The readable explanation is made on demand (Plan::detail), from notes the
/// planner recorded: nothing per decision lives on the heap.
struct DOLIBAK_API Decision {
    std::uint32_t backup = 0;  ///< the backup: Plan::backups[backup] (Plan::backup(d))
    bool keep = false;
    Reasons reasons;  ///< empty when dropped
    /// Where the decision's notes are in Plan::notes (the planner's; see Plan::detail).
    std::uint32_t first_note = 0;
    std::uint32_t note_count = 0;
};

/// One piece of a decision's explanation, as the planner recorded it (rendered by
/// Plan::detail; the fields' meaning is the planner's own).
struct DOLIBAK_API PlanNote {
    std::uint8_t kind = 0;
    std::uint8_t rule = 0;
    std::uint8_t flags = 0;
    std::uint32_t ref = 0;  ///< a backup index (the one kept instead, the newest success)
};

/// One decision spelled out with copies (its backup, reasons and detail): for tests, the
/// bindings and other small uses; large plans are read through Plan's accessors.
struct DOLIBAK_API Explained {
    Backup backup;
    bool keep = false;
    std::vector<Reason> reasons;
    std::string detail;
};

struct DOLIBAK_API Plan {
    /// The backups planned (moved in), in the decisions' order: decisions[k] is about
    /// backups[k] (Decision::backup == k for a plan as `plan` made it). The plan owns them:
    /// the views it hands out (backup(d), backups[k]) live as long as it does.
    BackupList backups;
    /// One decision per backup, by half (ascending), then newest first.
    std::vector<Decision> decisions;
    /// What the plan was made with (the details are made from them).
    TimePoint now{};
    Policy policy;
    /// The decisions' notes (Decision::first_note, note_count).
    std::vector<PlanNote> notes;

    BackupView backup(const Decision& d) const noexcept { return backups[d.backup]; }
    /// Human-readable explanation: the buckets for a kept backup ("newest of month
    /// 2026-09"), why it goes for a dropped one ("older than the yearly window (10 years)");
    /// several are joined with "; ".
    std::string detail(const Decision& d) const;
    /// The same, appended to `out` (no string of its own).
    void append_detail(std::string& out, const Decision& d) const;
    /// The most characters `d`'s detail can take (a bound, for write_detail).
    std::size_t detail_size_bound(const Decision& d) const noexcept;
    /// The same text written at `out`, which has room for detail_size_bound(d) characters;
    /// returns the end of what was written (for writers that fill a buffer of their own).
    char* write_detail(char* out, const Decision& d) const;
    Explained explain(const Decision& d) const;

    std::size_t kept() const noexcept;
    std::size_t dropped() const noexcept;
    /// How many kept backups carry reason `r`.
    std::size_t count(Reason r) const noexcept;
    /// Keys to delete, oldest first.
    std::vector<std::string> drop_keys() const;
};

/// Plans retention. Throws ConfigError for bad input (duplicate keys, empty key or half,
/// negative windows or counts other than `unlimited`) and Error when the plan would drop every
/// backup of a half.
/// Takes the backups by value: a caller done with its list moves it in, and the plan owns it
/// (Plan::backups, reordered), so no key is copied.
/// (A std::vector<Backup> or a braced list of Backups converts to a BackupList of copies.)
DOLIBAK_API Plan plan(BackupList backups, TimePoint now, const Policy& policy = {},
                      const std::set<std::string>& protected_keys = {});

/// The planner's elementary steps, counted in this thread while a WorkCounter lives (the
/// complexity test's seam: tests/cpp/retention/test_plan_complexity.cpp). A step is one
/// comparison of its sort or of a bucket map, one protected-key lookup counted as the
/// comparisons of a balanced tree (ceil(log2(size + 1))), or one visit of a backup by one of
/// its passes. Counters do not nest: the innermost one counts.
class DOLIBAK_API WorkCounter {
public:
    WorkCounter() noexcept;
    ~WorkCounter();
    WorkCounter(const WorkCounter&) = delete;
    WorkCounter& operator=(const WorkCounter&) = delete;
    std::uint64_t steps() const noexcept { return steps_; }

private:
    std::uint64_t steps_ = 0;
    std::uint64_t* previous_;
};

/// The check `plan` applies last, usable on a plan edited afterwards: throws Error when a
/// half that has backups would keep none of them.
DOLIBAK_API void check_keeps_every_half(const Plan& p);

/// The plan as JSON ("schema": "dolibak.plan/1", docs/json.md): {"schema", "now", "policy",
/// "mode", "time_zone", "kept", "dropped", "counts": {reason: n},
/// "decisions": [{"key","time","half","ok","verified","keep","reasons","detail"}]}
/// ("verified": "unknown", "good" or "failed"); "now" and "policy" are the plan's own.
DOLIBAK_API std::string to_json(const Plan& p);

/// The same text as to_json, handed to `out` in pieces (of about 64 KiB) as it is made,
/// so that a large plan can be streamed without holding its JSON (each detail is made as
/// it is written). Throws Error when a key, half or detail is not valid UTF-8 (nothing more
/// is handed to `out` then).
DOLIBAK_API void write_json(const Plan& p, const std::function<void(std::string_view)>& out);

/// A one-line description of the policy ("tiered: 30 days, 12 months, 10 years (UTC)").
DOLIBAK_API std::string describe(const Policy& policy);

}  // namespace dolibak::retention
