#include "packs/tree_walker.hpp"

#include "packs/piece.hpp"

#include <dolibak/core/error.hpp>

#include <fmt/format.h>

namespace dolibak::packs::detail {

namespace {

constexpr std::size_t max_depth = 4096;

Relocations& moved_for(const TreeAccess& a, std::unique_ptr<Relocations>& own) {
    if (!a.store) throw FormatError("index: a tree of pieces (version 2) is read from its store");
    if (a.moved) return *a.moved;
    own = std::make_unique<Relocations>(*a.store, a.identities);
    return *own;
}

std::vector<std::string> split_lines(const std::string& text, const BlobRef& ref) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        if (nl == std::string::npos)
            throw FormatError(fmt::format("index: the piece {} ends inside a line", ref.sha256));
        lines.emplace_back(text, pos, nl - pos);
        pos = nl + 1;
    }
    if (lines.empty()) throw FormatError(fmt::format("index: the piece {} is empty", ref.sha256));
    return lines;
}

}  // namespace

TreeWalker::TreeWalker(const TreeAccess& access, const BlobRef& root)
    : access_(access), blobs_(*access.store, access.identities, &moved_for(access, own_moved_)) {
    // Pieces are small frames packed together: one request per pack of pieces, not one per
    // directory (a pack of pieces is at most pack_size, 16 MiB by default).
    blobs_.keep_whole_packs(std::size_t{40} << 20);
    Frame f;
    if (load(root, false, f, 0)) stack_.push_back(std::move(f));
}

bool TreeWalker::load(const BlobRef& ref, bool part, Frame& f, std::uint64_t part_entries) {
    if (access_.on_piece) access_.on_piece(ref);
    const auto where = fmt::format("{}@{}", ref.pack, ref.offset);
    if (access_.seen && access_.seen->contains(where)) {
        skipped_ = true;
        return false;
    }
    const auto text = blobs_.read(ref);  // follows the move records, checks the SHA-256
    auto lines = split_lines(text, ref);
    const auto h = parse_header_line(lines.front());
    if (h.part != part)
        throw FormatError(fmt::format("index: the piece {} is a {} where a {} was expected",
                                      ref.sha256, h.part ? "part" : "directory",
                                      part ? "part" : "directory"));
    if (access_.on_piece_read) access_.on_piece_read(ref, text);
    if (access_.seen) access_.seen->insert(where);
    lines.erase(lines.begin());
    f.pack = ref.pack;
    f.next = 0;
    if (h.parts > 0) {
        if (lines.size() != h.parts)
            throw FormatError(fmt::format("index: the piece {} lists {} parts, not {}", ref.sha256,
                                          lines.size(), h.parts));
        std::uint64_t total = 0;
        for (const auto& l : lines) {
            std::uint64_t n = 0;
            auto r = parse_part_line(l, n);
            if (r.pack == same_pack) r.pack = ref.pack;
            total += n;
            f.parts.emplace_back(std::move(r), n);
        }
        if (total != h.entries)
            throw FormatError(
                fmt::format("index: the parts of the piece {} hold {} entries, not {}", ref.sha256,
                            total, h.entries));
        f.lines.clear();
        f.expected = h.entries;
        return true;
    }
    if (lines.size() != h.entries || (part && h.entries != part_entries))
        throw FormatError(fmt::format("index: the piece {} holds {} entries, its header says {}",
                                      ref.sha256, lines.size(), h.entries));
    f.lines = std::move(lines);
    if (!part) f.expected = h.entries;
    return true;
}

std::optional<IndexEntry> TreeWalker::next() {
    while (!stack_.empty()) {
        auto& f = stack_.back();
        if (f.next < f.lines.size()) {
            auto e = parse_entry_line(f.lines[f.next++], true, f.prefix);
            ++f.count;
            if (e.type == EntryType::directory) {
                if (e.piece.pack == same_pack) e.piece.pack = f.pack;
                if (stack_.size() >= max_depth)
                    throw FormatError("index: the tree of pieces is too deep");
                Frame child;
                child.prefix = e.path + "/";
                if (load(e.piece, false, child, 0)) {
                    e.piece_entries = child.expected;
                    stack_.push_back(std::move(child));  // `f` is not used after this
                }
            }
            return e;
        }
        if (f.next_part < f.parts.size()) {
            const auto [ref, n] = f.parts[f.next_part++];
            f.lines.clear();
            if (!load(ref, true, f, n)) f.partial = true;
            continue;
        }
        if (!f.partial && f.count != f.expected)
            throw FormatError(fmt::format("index: the directory '{}' lists {} entries, not {}",
                                          f.prefix, f.count, f.expected));
        stack_.pop_back();
    }
    return std::nullopt;
}

}  // namespace dolibak::packs::detail
