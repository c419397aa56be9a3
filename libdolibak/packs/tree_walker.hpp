#pragma once
// Reads the tree of pieces of a version 2 index (layer-private; docs/packs.md, "Objects"):
// the entries in walk order (parents before children, names in byte order), each piece read
// (and checked against its SHA-256) when the walk reaches it. Memory: the pieces on the path
// from the root to the current directory (one part of a split directory at a time).
#include "packs/blob.hpp"

#include <dolibak/packs/index.hpp>
#include <dolibak/packs/relocation.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dolibak::packs::detail {

class TreeWalker {
public:
    TreeWalker(const TreeAccess& access, const BlobRef& root);
    std::optional<IndexEntry> next();
    /// Some piece was not read (TreeAccess::seen): the counts cannot be checked.
    bool skipped() const noexcept { return skipped_; }

private:
    struct Frame {
        std::string prefix;  ///< "a/b/", "" at the root
        std::string pack;    ///< of the piece or part being listed, as referenced
        std::vector<std::string> lines;
        std::size_t next = 0;
        std::vector<std::pair<BlobRef, std::uint64_t>> parts;  ///< a split directory's
        std::size_t next_part = 0;
        std::uint64_t expected = 0;
        std::uint64_t count = 0;
        bool partial = false;  ///< a part was skipped
    };
    /// Reads a piece into `f` (its lines, or its parts); false when it was skipped (seen).
    bool load(const BlobRef& ref, bool part, Frame& f, std::uint64_t part_entries);

    TreeAccess access_;
    std::unique_ptr<Relocations> own_moved_;
    BlobReader blobs_;
    std::vector<Frame> stack_;
    bool skipped_ = false;
};

}  // namespace dolibak::packs::detail
