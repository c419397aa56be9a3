#pragma once
// The previous run's index, for the writer (layer-private). Read twice without being held in
// memory: the first pass (the constructor) shows every entry to the caller (who learns which
// blobs are stored) while the index's bytes are copied to an unlinked temporary file; the
// second pass is a merge-join with the walk: both list the tree in the same order (parents
// before children, names in byte order), so the entry of a walked path is found by reading
// forward. Memory: one entry, whatever the size of the tree.
#include <dolibak/io/fd.hpp>
#include <dolibak/packs/index.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace dolibak::packs::detail {

/// The walk's order: component by component, names compared as bytes ('/' sorts first).
bool walk_less(std::string_view a, std::string_view b) noexcept;

class PreviousIndex {
public:
    /// Reads `index` to its end, calling `learn` for each entry. Throws FormatError when it is
    /// not a readable index, IoError when the temporary file (in `temp_dir`, or the system's
    /// temporary directory) cannot be written.
    /// A version 2 index (a tree of pieces) is read through `tree` (its on_piece_read shows
    /// each piece read); its entries are written to the temporary file (with each
    /// directory's piece) for the second reading.
    PreviousIndex(io::Source& index, const std::filesystem::path& temp_dir,
                  const std::function<void(const IndexEntry&)>& learn,
                  const TreeAccess* tree = nullptr);
    ~PreviousIndex();
    PreviousIndex(const PreviousIndex&) = delete;
    PreviousIndex& operator=(const PreviousIndex&) = delete;

    /// The previous entry of `path`, or nullptr. Successive calls must come in walk order
    /// (an entry passed over is not seen again); the pointer is valid until the next call.
    const IndexEntry* find(std::string_view path);
    /// Version 2: the root piece (as referenced) and how many entries it lists.
    const std::optional<BlobRef>& root() const noexcept { return root_; }
    std::uint64_t root_entries() const noexcept { return root_entries_; }

private:
    io::UniqueFd spool_;
    std::unique_ptr<io::Source> source_;
    std::unique_ptr<IndexReader> reader_;
    std::optional<IndexEntry> current_;
    std::optional<BlobRef> root_;
    std::uint64_t root_entries_ = 0;
    bool started_ = false;
    bool ended_ = false;
};

}  // namespace dolibak::packs::detail
