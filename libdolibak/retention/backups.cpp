// The planner's backup lists (see include/dolibak/retention/backups.hpp).
#include <dolibak/core/error.hpp>
#include <dolibak/retention/backups.hpp>

#include <algorithm>
#include <limits>

namespace dolibak::retention {

namespace {

constexpr std::size_t max_offset = std::numeric_limits<std::uint32_t>::max();

}  // namespace

BackupList::BackupList(std::string arena) : arena_(std::move(arena)) {
    keep_arena_on_heap();
}

void BackupList::keep_arena_on_heap() {
    // A std::string holds up to 15 characters inline (libstdc++; other libraries fewer):
    // reserving more puts them in a heap block, whose address a move keeps.
    constexpr std::size_t past_inline = 32;
    if (arena_.capacity() < past_inline) arena_.reserve(past_inline);
}

BackupList::BackupList(const std::vector<Backup>& backups) {
    std::size_t bytes = 0;
    for (const auto& b : backups) bytes += b.key.size();
    arena_.reserve(bytes);
    entries_.reserve(backups.size());
    for (const auto& b : backups) add(b);
}

BackupList::BackupList(std::initializer_list<Backup> backups) {
    entries_.reserve(backups.size());
    for (const auto& b : backups) add(b);
}

std::uint32_t BackupList::half_number(std::string_view half) {
    if (last_half_ < halves_.size() && halves_[last_half_] == half) return last_half_;
    const auto at =
        static_cast<std::size_t>(std::find(halves_.begin(), halves_.end(), half) - halves_.begin());
    if (at == halves_.size()) {
        if (halves_.size() >= max_offset) throw ConfigError("too many halves in a backup list");
        halves_.emplace_back(half);
    }
    last_half_ = static_cast<std::uint32_t>(at);
    return last_half_;
}

void BackupList::add_from_arena(std::size_t key_at, std::size_t key_size, TimePoint time,
                                std::string_view half, bool ok, Verification verified) {
    if (key_at > arena_.size() || key_size > arena_.size() - key_at)
        throw ConfigError("a backup's key lies outside its list's text");
    if (key_at + key_size > max_offset)
        throw ConfigError("backup list too large: its keys' text exceeds 4 GiB");
    if (entries_.size() >= max_offset) throw ConfigError("too many backups in one list");
    entries_.push_back(Entry{time.time_since_epoch().count(), static_cast<std::uint32_t>(key_at),
                             static_cast<std::uint32_t>(key_size), half_number(half),
                             static_cast<std::uint8_t>(ok ? 1 : 0),
                             static_cast<std::uint8_t>(verified)});
}

void BackupList::add(const Backup& b) {
    const std::size_t at = arena_.size();
    if (b.key.size() > max_offset - std::min(at, max_offset))
        throw ConfigError("backup list too large: its keys' text exceeds 4 GiB");
    keep_arena_on_heap();
    arena_ += b.key;
    add_from_arena(at, b.key.size(), b.time, b.half, b.ok, b.verified);
}

std::vector<Backup> BackupList::to_backups() const {
    std::vector<Backup> out;
    out.reserve(size());
    for (std::size_t i = 0; i < size(); ++i) out.push_back((*this)[i].to_backup());
    return out;
}

}  // namespace dolibak::retention
