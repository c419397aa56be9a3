#pragma once
// Builds the tree of pieces of a version 2 index (layer-private; docs/packs.md, "Objects")
// from the entries in walk order: a directory's piece is made when the walk leaves it; a
// directory whose entries are those of the previous run's (same metadata, same content, the
// same subdirectories' pieces, as many entries) keeps the previous piece and nothing is
// stored for it. Memory: the entries of the directories open on the path from the root (a
// split directory's current part only).
#include <dolibak/packs/index.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dolibak::packs::detail {

/// What the previous run had at an entry's path.
struct Previous {
    /// A file or symlink: the same entry (content reused). A directory: the same metadata
    /// (its piece decides the rest).
    bool same = false;
    BlobRef piece;  ///< a directory: its previous piece, as referenced (empty: none usable)
    std::uint64_t piece_entries = 0;
};

class TreeBuilder {
public:
    /// Stores a piece's text and returns its reference; an empty pack: the writer's current
    /// pack, not named yet (`relative`: the text refers to pieces in that pack).
    using StorePiece = std::function<BlobRef(const std::string& text, bool relative)>;
    explicit TreeBuilder(StorePiece store);
    /// The previous run's root piece.
    void set_root_previous(Previous root);
    /// The next entry in walk order.
    void add(IndexEntry e, const Previous& previous);
    /// The writer's current pack was uploaded as `key`: references with an empty pack get it.
    void pack_named(const std::string& key);
    /// Closes every directory; returns the root piece (pack empty: in the current pack, see
    /// root() after pack_named).
    BlobRef finish();
    const BlobRef& root() const noexcept { return root_; }
    const IndexTotals& totals() const noexcept { return totals_; }
    std::uint64_t pieces_kept() const noexcept { return kept_; }

private:
    struct Item {
        IndexEntry e;
        bool same = false;
    };
    struct Node {
        std::string path;  ///< "" for the root
        Previous previous;
        std::vector<Item> items;                               ///< since the last part
        std::vector<std::pair<BlobRef, std::uint64_t>> parts;  ///< a split directory's
        std::uint64_t total = 0;
        bool all_same = true;
    };
    void close();
    /// A split directory: its complete parts are stored (`all`: the rest too, at its end).
    void cut(Node& n, bool all);
    BlobRef store_items(Node& n, std::size_t count, bool part);

    StorePiece store_;
    std::vector<Node> open_;
    BlobRef root_;
    IndexTotals totals_;
    std::uint64_t kept_ = 0;
};

}  // namespace dolibak::packs::detail
