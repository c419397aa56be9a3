#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/packs/index.hpp>

#include "packs/piece.hpp"
#include "packs/tree_walker.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>

namespace dolibak::packs {

namespace {

constexpr std::string_view index_format = "dolibak-docs-index";
constexpr int index_version = 1;
constexpr int tree_index_version = 2;
constexpr std::size_t max_line = 16 * 1024 * 1024;

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static constexpr std::array<std::uint32_t, 4> min_cp{0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::string from_hex(std::string_view hex, std::string_view field) {
    if (hex.size() % 2 != 0) throw FormatError(fmt::format("index: {} is not hexadecimal", field));
    std::string out(hex.size() / 2, '\0');
    auto nib = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        throw FormatError(fmt::format("index: {} is not hexadecimal", field));
    };
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<char>(nib(hex[2 * i]) * 16 + nib(hex[2 * i + 1]));
    return out;
}

void put_name(nlohmann::json& j, const char* field, const std::string& value) {
    if (valid_utf8(value))
        j[field] = value;
    else
        j[std::string(field) + "_hex"] = io::to_hex(io::as_bytes(value));
}

std::string get_name(const nlohmann::json& j, const std::string& field) {
    if (auto it = j.find(field); it != j.end()) return it->get<std::string>();
    if (auto it = j.find(field + "_hex"); it != j.end())
        return from_hex(it->get<std::string>(), field + "_hex");
    return {};
}

std::string_view type_name(EntryType t) {
    switch (t) {
        case EntryType::file:
            return "file";
        case EntryType::directory:
            return "dir";
        case EntryType::symlink:
            return "symlink";
    }
    return "file";
}

bool is_hex_digest(std::string_view s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

nlohmann::json ref_json(const BlobRef& b) {
    return {{"sha256", b.sha256},
            {"pack", b.pack.empty() ? std::string(detail::same_pack) : b.pack},
            {"offset", b.offset},
            {"length", b.length},
            {"size", b.size}};
}

/// `relative`: the pack may be detail::same_pack (a piece's reference to a piece).
BlobRef parse_ref(const nlohmann::json& b, bool relative, const std::string& path) {
    BlobRef r;
    r.sha256 = b.at("sha256").get<std::string>();
    r.pack = b.at("pack").get<std::string>();
    r.offset = b.at("offset").get<std::uint64_t>();
    r.length = b.at("length").get<std::uint64_t>();
    r.size = b.at("size").get<std::uint64_t>();
    const bool pack_ok =
        r.pack.rfind("packs/", 0) == 0 || (relative && r.pack == detail::same_pack);
    if (!is_hex_digest(r.sha256) || !pack_ok || r.length == 0)
        throw FormatError(fmt::format("index: entry {} has a malformed blob", path));
    return r;
}

IndexEntry parse_entry(const nlohmann::json& j, bool in_piece, const std::string& prefix) {
    IndexEntry e;
    if (in_piece) {
        const auto name = get_name(j, "name");
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
            name.find('\0') != std::string::npos)
            throw FormatError(
                fmt::format("index: a piece under '{}' holds the name '{}'", prefix, name));
        e.path = prefix + name;
    } else {
        e.path = get_name(j, "path");
    }
    if (e.path.empty()) throw FormatError("index: an entry has no path");
    const auto type = j.at("type").get<std::string>();
    if (type == "file")
        e.type = EntryType::file;
    else if (type == "dir")
        e.type = EntryType::directory;
    else if (type == "symlink")
        e.type = EntryType::symlink;
    else
        throw FormatError(fmt::format("index: entry {} has an unknown type {}", e.path, type));
    e.mode = j.at("mode").get<std::uint32_t>() & 07777;
    e.uid = j.value("uid", 0u);
    e.gid = j.value("gid", 0u);
    e.mtime_ns = j.value("mtime_ns", std::int64_t{0});
    e.ctime_ns = j.value("ctime_ns", std::int64_t{0});
    e.inode = j.value("inode", std::uint64_t{0});
    if (e.type == EntryType::symlink) e.target = get_name(j, "target");
    if (e.type == EntryType::file) {
        e.size = j.at("size").get<std::uint64_t>();
        std::uint64_t total = 0;
        for (const auto& b : j.at("blobs")) {
            BlobRef r = parse_ref(b, false, e.path);
            total += r.size;
            e.blobs.push_back(std::move(r));
        }
        if (total != e.size)
            throw FormatError(
                fmt::format("index: entry {} has {} bytes in its blobs but a size of {}", e.path,
                            total, e.size));
    }
    if (e.type == EntryType::directory) {
        if (auto it = j.find("piece"); it != j.end())
            e.piece = parse_ref(*it, in_piece, e.path);
        else if (in_piece)
            throw FormatError(fmt::format("index: directory {} has no piece", e.path));
        e.piece_entries = j.value("piece_entries", std::uint64_t{0});
    }
    return e;
}

nlohmann::json entry_json(const IndexEntry& e, bool in_piece) {
    nlohmann::json j;
    if (in_piece) {
        const auto slash = e.path.rfind('/');
        put_name(j, "name", slash == std::string::npos ? e.path : e.path.substr(slash + 1));
    } else {
        put_name(j, "path", e.path);
    }
    j["type"] = type_name(e.type);
    j["mode"] = e.mode & 07777;
    j["uid"] = e.uid;
    j["gid"] = e.gid;
    j["mtime_ns"] = e.mtime_ns;
    if (e.type == EntryType::symlink) put_name(j, "target", e.target);
    if (e.type == EntryType::file) {
        j["size"] = e.size;
        j["ctime_ns"] = e.ctime_ns;
        j["inode"] = e.inode;
        auto blobs = nlohmann::json::array();
        for (const auto& b : e.blobs) blobs.push_back(ref_json(b));
        j["blobs"] = std::move(blobs);
    }
    if (e.type == EntryType::directory && (in_piece || !e.piece.sha256.empty())) {
        j["piece"] = ref_json(e.piece);
        // Outside a piece (a previous index spooled by the writer): the count too.
        if (!in_piece) j["piece_entries"] = e.piece_entries;
    }
    return j;
}

}  // namespace

namespace detail {

bool cut_after(std::string_view name) noexcept {
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : name) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h % 64 == 63;
}

std::string entry_line(const IndexEntry& e, bool in_piece) {
    return entry_json(e, in_piece).dump();
}

IndexEntry parse_entry_line(std::string_view line, bool in_piece, const std::string& prefix) {
    try {
        return parse_entry(nlohmann::json::parse(line), in_piece, prefix);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("index: malformed entry ({})", e.what()));
    }
}

std::string header_line(const PieceHeader& h) {
    nlohmann::json j{{"piece", h.part ? "part" : "dir"}, {"entries", h.entries}};
    if (h.parts > 0) j["parts"] = h.parts;
    return j.dump();
}

PieceHeader parse_header_line(std::string_view line) {
    try {
        const auto j = nlohmann::json::parse(line);
        PieceHeader h;
        const auto kind = j.at("piece").get<std::string>();
        if (kind != "dir" && kind != "part")
            throw FormatError(fmt::format("index: a piece of an unknown kind {}", kind));
        h.part = kind == "part";
        h.entries = j.at("entries").get<std::uint64_t>();
        h.parts = j.value("parts", std::uint64_t{0});
        if (h.part && h.parts > 0) throw FormatError("index: a part that has parts");
        return h;
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("index: a piece's header is malformed ({})", e.what()));
    }
}

std::string part_line(const BlobRef& ref, std::uint64_t entries) {
    auto j = ref_json(ref);
    j["entries"] = entries;
    return j.dump();
}

BlobRef parse_part_line(std::string_view line, std::uint64_t& entries) {
    try {
        const auto j = nlohmann::json::parse(line);
        entries = j.at("entries").get<std::uint64_t>();
        return parse_ref(j, true, "(a part)");
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("index: a part's reference is malformed ({})", e.what()));
    }
}

}  // namespace detail

std::string pack_key(std::string_view sha256_hex, bool encrypted) {
    return fmt::format("packs/{}/{}.pack{}", sha256_hex.substr(0, 2), sha256_hex,
                       encrypted ? ".age" : "");
}

bool is_encrypted_pack(std::string_view key) {
    return key.ends_with(".pack.age");
}

std::string index_key(std::string_view run_timestamp) {
    return fmt::format("docs/{}.index.zst", run_timestamp);
}

struct IndexWriter::Impl {
    explicit Impl(io::Sink& next) : zstd(next, io::ZstdOptions{.level = 6, .threads = 0}) {}
    io::ZstdSink zstd;
    bool done = false;
};

IndexWriter::IndexWriter(io::Sink& next, std::string_view run)
    : impl_(std::make_unique<Impl>(next)) {
    nlohmann::json h{{"format", index_format},
                     {"version", index_version},
                     {"run", run},
                     {"blob_hash", "sha256"},
                     {"compression", "zstd"}};
    io::write(impl_->zstd, h.dump() + "\n");
}

IndexWriter::~IndexWriter() {
    if (!impl_->done) abort();
}

void IndexWriter::add(const IndexEntry& e) {
    if (e.type == EntryType::file) {
        ++totals_.files;
        totals_.bytes += e.size;
    }
    ++totals_.entries;
    io::write(impl_->zstd, entry_json(e, false).dump() + "\n");
}

void IndexWriter::finish() {
    nlohmann::json t{{"end", true},
                     {"entries", totals_.entries},
                     {"files", totals_.files},
                     {"bytes", totals_.bytes}};
    io::write(impl_->zstd, t.dump() + "\n");
    impl_->done = true;
    impl_->zstd.finish();
}

void IndexWriter::abort() noexcept {
    impl_->done = true;
    impl_->zstd.abort();
}

struct IndexReader::Impl {
    explicit Impl(io::Source& src) : zstd(src) {}
    io::ZstdSource zstd;
    std::string buf;
    std::size_t pos = 0;
    bool eof = false;
    bool ended = false;
    IndexTotals seen;
    std::unique_ptr<detail::TreeWalker> tree;  ///< version 2
    IndexTotals expected;                      ///< version 2: the trailer's counts

    std::optional<std::string> line() {
        for (;;) {
            if (auto nl = buf.find('\n', pos); nl != std::string::npos) {
                std::string l = buf.substr(pos, nl - pos);
                pos = nl + 1;
                return l;
            }
            if (eof) {
                if (pos < buf.size()) throw FormatError("index: the last line is incomplete");
                return std::nullopt;
            }
            buf.erase(0, pos);
            pos = 0;
            if (buf.size() > max_line) throw FormatError("index: a line is too long");
            char chunk[64 * 1024];
            const auto n =
                zstd.read(io::MutableBytes(reinterpret_cast<std::byte*>(chunk), sizeof chunk));
            if (n == 0)
                eof = true;
            else
                buf.append(chunk, n);
        }
    }
};

namespace {

IndexTotals parse_trailer(const nlohmann::json& j) {
    IndexTotals t;
    t.entries = j.at("entries").get<std::uint64_t>();
    t.files = j.at("files").get<std::uint64_t>();
    t.bytes = j.at("bytes").get<std::uint64_t>();
    return t;
}

bool operator!=(const IndexTotals& a, const IndexTotals& b) {
    return a.entries != b.entries || a.files != b.files || a.bytes != b.bytes;
}

}  // namespace

IndexReader::IndexReader(io::Source& compressed, const TreeAccess* tree)
    : impl_(std::make_unique<Impl>(compressed)) {
    auto first = impl_->line();
    if (!first) throw FormatError("index: empty");
    try {
        const auto h = nlohmann::json::parse(*first);
        if (h.at("format").get<std::string>() != index_format)
            throw FormatError("index: not a dolibak documents index");
        version_ = h.at("version").get<int>();
        if (version_ != index_version && version_ != tree_index_version)
            throw FormatError(
                fmt::format("index: version {} is not supported", h.at("version").dump()));
        run_ = h.at("run").get<std::string>();
        if (version_ == tree_index_version) {
            root_ = parse_ref(h.at("root"), false, "(the root)");
            auto t = impl_->line();
            if (!t) throw FormatError("index: ends before its trailer (truncated)");
            const auto j = nlohmann::json::parse(*t);
            if (!j.contains("end")) throw FormatError("index: a version 2 index holds no entries");
            impl_->expected = parse_trailer(j);
            if (impl_->line()) throw FormatError("index: data after the trailer");
        }
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("index: malformed header ({})", e.what()));
    }
    if (root_) {
        if (!tree || !tree->store)
            throw FormatError("index: a tree of pieces (version 2) is read from its store");
        impl_->tree = std::make_unique<detail::TreeWalker>(*tree, *root_);
    }
}

IndexReader::~IndexReader() = default;

std::optional<IndexEntry> IndexReader::next() {
    if (impl_->ended) return std::nullopt;
    if (impl_->tree) {
        auto e = impl_->tree->next();
        if (!e) {
            if (!impl_->tree->skipped() && impl_->seen != impl_->expected)
                throw FormatError("index: the trailer's counts disagree with its entries");
            totals_ = impl_->expected;
            impl_->ended = true;
            return std::nullopt;
        }
        ++impl_->seen.entries;
        if (e->type == EntryType::file) {
            ++impl_->seen.files;
            impl_->seen.bytes += e->size;
        }
        return e;
    }
    auto l = impl_->line();
    if (!l) throw FormatError("index: ends before its trailer (truncated)");
    try {
        const auto j = nlohmann::json::parse(*l);
        if (j.contains("end")) {
            totals_.entries = j.at("entries").get<std::uint64_t>();
            totals_.files = j.at("files").get<std::uint64_t>();
            totals_.bytes = j.at("bytes").get<std::uint64_t>();
            if (totals_.entries != impl_->seen.entries || totals_.files != impl_->seen.files ||
                totals_.bytes != impl_->seen.bytes)
                throw FormatError("index: the trailer's counts disagree with its entries");
            if (impl_->line()) throw FormatError("index: data after the trailer");
            impl_->ended = true;
            return std::nullopt;
        }
        auto e = parse_entry(j, false, {});
        ++impl_->seen.entries;
        if (e.type == EntryType::file) {
            ++impl_->seen.files;
            impl_->seen.bytes += e.size;
        }
        return e;
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("index: malformed entry ({})", e.what()));
    }
}

}  // namespace dolibak::packs

namespace dolibak::packs {

void write_tree_index(io::Sink& next, std::string_view run, const BlobRef& root,
                      const IndexTotals& totals) {
    io::ZstdSink zstd(next, io::ZstdOptions{.level = 6, .threads = 0});
    try {
        nlohmann::json h{
            {"format", index_format}, {"version", tree_index_version}, {"run", run},
            {"blob_hash", "sha256"},  {"compression", "zstd"},         {"root", ref_json(root)}};
        nlohmann::json t{{"end", true},
                         {"entries", totals.entries},
                         {"files", totals.files},
                         {"bytes", totals.bytes}};
        io::write(zstd, h.dump() + "\n" + t.dump() + "\n");
        zstd.finish();
    } catch (...) {
        zstd.abort();
        throw;
    }
}

}  // namespace dolibak::packs
