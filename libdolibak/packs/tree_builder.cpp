#include "packs/tree_builder.hpp"

#include "packs/piece.hpp"

#include <dolibak/core/error.hpp>

#include <fmt/format.h>

namespace dolibak::packs::detail {

namespace {

std::string_view parent_of(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view name_of(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

/// Whether an item's piece is known (a directory's, once the walk left it).
bool complete(const IndexEntry& e) {
    return e.type != EntryType::directory || !e.piece.sha256.empty();
}

}  // namespace

TreeBuilder::TreeBuilder(StorePiece store) : store_(std::move(store)) {
    open_.emplace_back();
}

void TreeBuilder::set_root_previous(Previous root) {
    open_.front().previous = std::move(root);
}

void TreeBuilder::add(IndexEntry e, const Previous& previous) {
    if (open_.empty()) throw FormatError("packs: an entry after the tree's end (internal error)");
    const auto parent = parent_of(e.path);
    while (open_.size() > 1 && open_.back().path != parent) close();
    if (open_.back().path != parent)
        throw FormatError(fmt::format("packs: {} out of walk order (internal error)", e.path));
    ++totals_.entries;
    if (e.type == EntryType::file) {
        ++totals_.files;
        totals_.bytes += e.size;
    }
    auto& node = open_.back();
    ++node.total;
    const bool dir = e.type == EntryType::directory;
    if (!dir) node.all_same = node.all_same && previous.same;
    Item item;
    item.same = previous.same;
    std::string path = dir ? e.path : std::string();
    item.e = std::move(e);
    node.items.push_back(std::move(item));
    if (dir) {
        Node child;
        child.path = std::move(path);
        child.previous = previous;
        open_.push_back(std::move(child));
    } else {
        cut(node, false);
    }
}

BlobRef TreeBuilder::store_items(Node& n, std::size_t count, bool part) {
    PieceHeader h;
    h.part = part;
    h.entries = part ? count : n.total;
    std::string text = header_line(h) + "\n";
    bool relative = false;
    for (std::size_t i = 0; i < count; ++i) {
        const auto& e = n.items[i].e;
        relative = relative || (e.type == EntryType::directory && e.piece.pack.empty());
        text += entry_line(e, true);
        text += '\n';
    }
    return store_(text, relative);
}

void TreeBuilder::cut(Node& n, bool all) {
    if (n.total <= split_above && n.parts.empty()) return;  // not (yet) a split directory
    for (;;) {
        std::size_t end = 0;  // items of the next complete part
        for (std::size_t i = 0; i < n.items.size(); ++i) {
            if (!complete(n.items[i].e)) break;
            if (cut_after(name_of(n.items[i].e.path)) || i + 1 == max_part) {
                end = i + 1;
                break;
            }
        }
        if (end == 0 && all && !n.items.empty()) end = n.items.size();
        if (end == 0) return;
        auto ref = store_items(n, end, true);
        n.parts.emplace_back(std::move(ref), end);
        n.items.erase(n.items.begin(), n.items.begin() + static_cast<std::ptrdiff_t>(end));
    }
}

void TreeBuilder::close() {
    Node n = std::move(open_.back());
    open_.pop_back();
    BlobRef ref;
    const bool reuse =
        !n.previous.piece.sha256.empty() && n.all_same && n.total == n.previous.piece_entries;
    if (reuse) {
        ref = n.previous.piece;
        ++kept_;
    } else if (n.parts.empty()) {
        ref = store_items(n, n.items.size(), false);
    } else {
        cut(n, true);
        PieceHeader h;
        h.entries = n.total;
        h.parts = n.parts.size();
        std::string text = header_line(h) + "\n";
        bool relative = false;
        for (const auto& [part, count] : n.parts) {
            relative = relative || part.pack.empty();
            text += part_line(part, count);
            text += '\n';
        }
        ref = store_(text, relative);
    }
    if (open_.empty()) {
        root_ = std::move(ref);
        return;
    }
    auto& parent = open_.back();
    auto& item = parent.items.back();  // the walk left the directory: its entry is the last
    item.e.piece = std::move(ref);
    item.e.piece_entries = n.total;
    item.same = item.same && reuse;
    parent.all_same = parent.all_same && item.same;
    cut(parent, false);
}

void TreeBuilder::pack_named(const std::string& key) {
    for (auto& n : open_) {
        for (auto& i : n.items) {
            if (i.e.type == EntryType::directory && !i.e.piece.sha256.empty() &&
                i.e.piece.pack.empty())
                i.e.piece.pack = key;
        }
        for (auto& p : n.parts)
            if (p.first.pack.empty()) p.first.pack = key;
    }
    if (!root_.sha256.empty() && root_.pack.empty()) root_.pack = key;
}

BlobRef TreeBuilder::finish() {
    while (!open_.empty()) close();
    return root_;
}

}  // namespace dolibak::packs::detail
