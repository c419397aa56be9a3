#pragma once
// The retention planner's input: backups, as owned values (Backup) or as a compact list that
// owns all its keys in one block of text (BackupList, what a plan holds), read through views
// (BackupView).
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::retention {

/// The result of a backup's latest verification (restoring it somewhere and checking it).
enum class Verification {
    unknown,  ///< never verified, or the result is not known
    good,     ///< the latest verification succeeded
    failed,   ///< the latest verification failed
};

/// "unknown", "good", "failed".
DOLIBAK_API std::string_view to_string(Verification v) noexcept;

/// One backup object of one half, with its own copies of its key and half (for small lists
/// and the bindings; a long list is a BackupList).
struct DOLIBAK_API Backup {
    std::string key;   ///< store key, unique
    TimePoint time{};  ///< when the run started (the key's time stamp)
    std::string half;  ///< "db", "docs", ...: each half is planned on its own
    bool ok = true;    ///< false: the run failed or the object is known bad
    /// Its latest verification: in every bucket, a backup whose verification failed stands
    /// for the bucket only when every successful backup of the bucket failed verification.
    Verification verified = Verification::unknown;
};

/// A backup as a BackupList (and so a Plan) holds it: its key and half are views into the
/// list's own storage, valid while that list lives and is not added to (the same lifetime as a
/// reference to one of its elements; moving the list or its plan keeps them valid).
/// to_backup() makes an owned copy.
struct DOLIBAK_API BackupView {
    std::string_view key;
    TimePoint time{};
    std::string_view half;
    bool ok = true;
    Verification verified = Verification::unknown;

    Backup to_backup() const {
        return Backup{std::string(key), time, std::string(half), ok, verified};
    }
};

/// A list of backups held compactly: every key in one block of text that the list owns (its
/// arena: e.g. the whole backup list as it was read, the keys being parts of it), every backup
/// a small fixed entry (where its key is in the arena, its time, half number, state), the
/// halves' names once each. Nothing is allocated per backup. Element access returns
/// BackupViews into the list (see there for their lifetime).
class DOLIBAK_API BackupList {
public:
    BackupList() = default;
    /// A list whose keys will be parts of `arena` (add_from_arena).
    explicit BackupList(std::string arena);
    /// A list of copies of `backups` (their keys copied into one arena); implicit, so that
    /// plan() takes a std::vector<Backup> or a braced list of Backups as well.
    BackupList(const std::vector<Backup>& backups);     // NOLINT(google-explicit-constructor)
    BackupList(std::initializer_list<Backup> backups);  // NOLINT(google-explicit-constructor)

    /// Adds a backup whose key is arena()[key_at, key_at + key_size). Throws ConfigError when
    /// that range is not inside the arena or the list outgrows its 32-bit offsets.
    void add_from_arena(std::size_t key_at, std::size_t key_size, TimePoint time,
                        std::string_view half, bool ok = true,
                        Verification verified = Verification::unknown);
    /// Adds a copy of `b` (its key appended to the arena).
    void add(const Backup& b);
    void reserve(std::size_t backups) { entries_.reserve(backups); }

    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    BackupView operator[](std::size_t i) const noexcept {
        const Entry& e = entries_[i];
        return BackupView{std::string_view(arena_.data() + e.key_at, e.key_size),
                          TimePoint{std::chrono::seconds{e.time}}, halves_[e.half], e.ok != 0,
                          static_cast<Verification>(e.verified)};
    }
    std::string_view key(std::size_t i) const noexcept {
        return std::string_view(arena_.data() + entries_[i].key_at, entries_[i].key_size);
    }
    TimePoint time(std::size_t i) const noexcept {
        return TimePoint{std::chrono::seconds{entries_[i].time}};
    }
    /// The backups' halves, each once, numbered by half_index.
    const std::vector<std::string>& halves() const noexcept { return halves_; }
    std::uint32_t half_index(std::size_t i) const noexcept { return entries_[i].half; }
    /// The text the keys are parts of.
    std::string_view arena() const noexcept { return arena_; }
    /// Owned copies of every backup, in the list's order.
    std::vector<Backup> to_backups() const;

private:
    friend struct ListAccess;  // the planner's (planner.cpp)
    struct Entry {
        std::int64_t time;  // seconds since the epoch
        std::uint32_t key_at;
        std::uint32_t key_size;
        std::uint32_t half;  // index into halves_
        std::uint8_t ok;
        std::uint8_t verified;
    };
    std::uint32_t half_number(std::string_view half);
    // The arena kept out of the string's inline buffer, so that a move of the list (its
    // string's heap block changing owner) leaves the views it gave valid.
    void keep_arena_on_heap();
    std::string arena_;
    std::vector<Entry> entries_;
    std::vector<std::string> halves_;
    std::uint32_t last_half_ = 0;  // the half of the latest add (a list comes in runs of one)
};

}  // namespace dolibak::retention
