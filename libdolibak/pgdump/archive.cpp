// Reader of pg_dump's custom archive format, as a push parser (see archive.hpp).
//
// Layout (all integers are a sign byte then int_size bytes, least significant first; a
// string is an integer length, -1 for NULL, then its bytes; an offset is a state byte then
// off_size bytes):
//   "PGDMP" major minor rev int_size off_size format
//   compression (1.15+: one byte naming the algorithm; before: an integer zlib level)
//   creation time (7 integers: sec min hour mday mon year isdst), dbname, server version,
//   pg_dump version, TOC entry count, then the entries, then one data block per entry with
//   data, in TOC order: a block type byte (1 data, 3 large objects), the dump id, and chunks
//   (integer length + bytes) up to a zero length; a large-object block holds (oid, chunks,
//   zero) groups up to a zero oid.
#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/replay.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/pgdump/archive.hpp>

#include "pgdump/inflate.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>
#include <unordered_map>

namespace dolibak::pgdump {

std::string to_string(Compression c) {
    switch (c) {
        case Compression::none:
            return "none";
        case Compression::gzip:
            return "gzip";
        case Compression::lz4:
            return "lz4";
        case Compression::zstd:
            return "zstd";
    }
    return "unknown";
}

std::string to_string(Defect d) {
    switch (d) {
        case Defect::none:
            return "ok";
        case Defect::empty:
            return "empty";
        case Defect::bad_magic:
            return "bad_magic";
        case Defect::unsupported_version:
            return "unsupported_version";
        case Defect::bad_header:
            return "bad_header";
        case Defect::truncated_header:
            return "truncated_header";
        case Defect::truncated_toc:
            return "truncated_toc";
        case Defect::bad_toc:
            return "bad_toc";
        case Defect::truncated_block:
            return "truncated_block";
        case Defect::unknown_block:
            return "unknown_block";
        case Defect::out_of_order_block:
            return "out_of_order_block";
        case Defect::bad_offset:
            return "bad_offset";
        case Defect::missing_block:
            return "missing_block";
        case Defect::bad_compressed_stream:
            return "bad_compressed_stream";
        case Defect::unsupported_compression:
            return "unsupported_compression";
        case Defect::trailing_garbage:
            return "trailing_garbage";
    }
    return "unknown";
}

std::string ArchiveHeader::version_string() const {
    return fmt::format("{}.{}-{}", version_major, version_minor, version_rev);
}

const TocEntry* ArchiveSummary::find(int dump_id) const noexcept {
    for (const auto& e : entries)
        if (e.dump_id == dump_id) return &e;
    return nullptr;
}

const TableStats* ArchiveSummary::table(const std::string& s, const std::string& n) const noexcept {
    for (const auto& t : tables)
        if (t.schema == s && t.name == n) return &t;
    return nullptr;
}

namespace {

constexpr int min_minor = 12;
constexpr int max_minor = 16;
constexpr std::uint8_t blk_data = 1;
constexpr std::uint8_t blk_blobs = 3;

// What the parser expects next.
enum class F {
    magic,
    version,
    int_size,
    off_size,
    format,
    comp_alg,
    comp_level,
    ts,  // 7 integers, ts_index_ counts them
    dbname,
    server_version,
    dump_version,
    toc_count,
    e_dump_id,
    e_had_dumper,
    e_tableoid,
    e_oid,
    e_tag,
    e_desc,
    e_section,
    e_defn,
    e_drop,
    e_copy,
    e_namespace,
    e_tablespace,
    e_tableam,
    e_relkind,
    e_owner,
    e_withoids,
    e_dep,
    e_offset,
    b_type,
    b_dump_id,
    b_chunk_len,
    b_blob_oid,
    t_count,  // the TOC copy's entry count (WriteToc starts with it)
};

enum class Kind { fixed, integer, offset, string };

// Counts COPY rows: one line per row up to the "\." line. Lines are found with memchr (the
// verifier reads every byte of the dump's data; a byte-at-a-time loop was most of its cost).
class RowCounter {
public:
    void feed(io::Bytes b) {
        const auto* p = reinterpret_cast<const char*>(b.data());
        const char* const end = p + b.size();
        while (p < end && !ended_) {
            const auto* nl =
                static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            const char* const line_end = nl ? nl : end;
            const auto seg = static_cast<std::size_t>(line_end - p);
            for (std::size_t k = 0; k < seg && len_ + k < 2; ++k) head_[len_ + k] = p[k];
            len_ += seg;
            if (!nl) return;
            if (len_ == 2 && head_[0] == '\\' && head_[1] == '.')
                ended_ = true;  // nothing after the end marker is a row
            else
                ++rows_;
            len_ = 0;
            p = nl + 1;
        }
    }
    std::uint64_t rows() const noexcept { return rows_ + ((len_ > 0 && !ended_) ? 1 : 0); }

private:
    std::uint64_t rows_ = 0;
    std::uint64_t len_ = 0;
    std::array<char, 2> head_{};
    bool ended_ = false;
};

bool parse_u32(const std::string& s, std::uint32_t& out) {
    if (s.empty()) return false;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end;
}

bool parse_int(const std::string& s, int& out) {
    if (s.empty()) return false;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end;
}

}  // namespace

struct ArchiveReader::Impl {
    ReaderOptions opts;
    ArchiveSummary sum;
    VerifyResult res;
    bool failed = false;
    bool finished = false;
    bool header_done = false;
    bool toc_done = false;

    std::uint64_t pos = 0;         // bytes consumed
    std::uint64_t item_start = 0;  // where the current field started

    // Current field.
    F field = F::magic;
    Kind kind = Kind::fixed;
    std::array<std::uint8_t, 16> fix{};
    std::size_t fix_have = 0;
    std::size_t fix_need = 5;
    // Strings.
    bool in_string_body = false;
    bool keep_string = false;
    std::uint64_t str_remaining = 0;
    std::string str;
    // Chunks.
    bool in_chunk_body = false;
    std::uint64_t chunk_remaining = 0;
    std::uint64_t chunk_start = 0;

    int ts_index = 0;
    std::array<std::int64_t, 7> ts{};
    std::unordered_map<int, std::size_t> index_by_id;
    TocEntry cur;  // the TOC entry being read

    // Data phase.
    std::size_t next_data = 0;  // index in sum.entries of the next entry expected to have a block
    std::size_t block_entry = 0;
    std::uint8_t block_type = 0;
    std::uint64_t block_start = 0;
    bool block_has_chunks = false;
    std::unique_ptr<detail::Inflater> inflater;
    RowCounter rows;

    // The copy of the TOC a file opened for appending gets after the data (pg_dump rewrites
    // the TOC with the blocks' offsets at the end of its run, where it seeks back to the
    // TOC: in append mode that write lands at the end). Each entry's bytes but its offset
    // field are hashed on the first pass and compared on the second.
    std::uint64_t entry_hash = 0;
    std::vector<std::uint64_t> entry_hashes;
    bool in_trailer = false;    // reading what follows the last data block
    bool trailer_bad = false;   // it is not (only) the TOC's copy: counted, not parsed
    bool trailer_done = false;  // the whole copy has been read
    std::size_t trailer_index = 0;
    std::uint64_t trailer_start = 0;

    void fail(Defect d, std::string message, std::uint64_t offset) {
        if (in_trailer) {
            // Not the TOC's copy: finish() reports the trailer with its whole size.
            trailer_bad = true;
            return;
        }
        if (failed) return;
        failed = true;
        res.defect = d;
        res.message = std::move(message);
        res.offset = offset;
    }

    Kind kind_of(F f) const {
        switch (f) {
            case F::magic:
            case F::version:
            case F::int_size:
            case F::off_size:
            case F::format:
            case F::comp_alg:
            case F::b_type:
                return Kind::fixed;
            case F::dbname:
            case F::server_version:
            case F::dump_version:
            case F::e_tableoid:
            case F::e_oid:
            case F::e_tag:
            case F::e_desc:
            case F::e_defn:
            case F::e_drop:
            case F::e_copy:
            case F::e_namespace:
            case F::e_tablespace:
            case F::e_tableam:
            case F::e_owner:
            case F::e_withoids:
            case F::e_dep:
                return Kind::string;
            case F::e_offset:
                return Kind::offset;
            default:
                return Kind::integer;
        }
    }

    void expect(F f) {
        if (f == F::e_dump_id) entry_hash = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
        field = f;
        kind = kind_of(f);
        item_start = pos;
        fix_have = 0;
        in_string_body = false;
        in_chunk_body = false;
        switch (f) {
            case F::magic:
                fix_need = 5;
                break;
            case F::version:
                fix_need = 3;
                break;
            default:
                if (kind == Kind::fixed)
                    fix_need = 1;
                else if (kind == Kind::offset)
                    fix_need = 1 + static_cast<std::size_t>(sum.header.offset_size);
                else
                    fix_need = 1 + static_cast<std::size_t>(sum.header.int_size);
        }
    }

    int minor() const { return sum.header.version_minor; }

    std::int64_t decode_int() const {
        std::uint64_t v = 0;
        for (std::size_t i = 1; i < fix_need; ++i) v |= std::uint64_t{fix[i]} << (8 * (i - 1));
        const auto sv = static_cast<std::int64_t>(v & 0x7fffffffffffffffULL);
        return fix[0] ? -sv : sv;
    }

    std::string where_entry() const {
        return fmt::format("TOC entry {} of {}", sum.entries.size() + 1, sum.header.toc_count);
    }

    // ---- feeding

    // A field of a TOC entry other than its data offset.
    bool hashed_field() const { return field >= F::e_dump_id && field <= F::e_dep; }
    void hash(const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) entry_hash = (entry_hash ^ p[i]) * 0x100000001b3ULL;
    }

    void update(io::Bytes data) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
        std::size_t n = data.size();
        while (n > 0 && !failed) {
            if (toc_done && !in_trailer && field == F::b_type && next_data >= sum.entries.size())
                start_trailer();
            if (in_trailer && (trailer_bad || trailer_done)) {
                trailer_bad = true;
                pos += n;
                return;
            }
            if (in_string_body) {
                const auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(n, str_remaining));
                if (hashed_field()) hash(p, take);
                if (keep_string) str.append(reinterpret_cast<const char*>(p), take);
                p += take;
                n -= take;
                pos += take;
                str_remaining -= take;
                if (str_remaining == 0) {
                    in_string_body = false;
                    on_string(std::move(str), true);
                }
                continue;
            }
            if (in_chunk_body) {
                const auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(n, chunk_remaining));
                on_chunk_bytes(io::Bytes(reinterpret_cast<const std::byte*>(p), take));
                p += take;
                n -= take;
                pos += take;
                chunk_remaining -= take;
                if (!failed && chunk_remaining == 0) {
                    in_chunk_body = false;
                    expect(F::b_chunk_len);
                }
                continue;
            }
            const std::size_t take = std::min(n, fix_need - fix_have);
            if (hashed_field()) hash(p, take);
            std::memcpy(fix.data() + fix_have, p, take);
            fix_have += take;
            p += take;
            n -= take;
            pos += take;
            if (fix_have == fix_need) on_fixed();
        }
    }

    void on_fixed() {
        if (kind == Kind::string) {
            const std::int64_t len = decode_int();
            if (len < 0) return on_string({}, false);
            if (len == 0) return on_string({}, true);
            keep_string = field != F::e_defn && field != F::e_drop;
            if (keep_string && static_cast<std::uint64_t>(len) > opts.max_string)
                return fail(header_done ? Defect::bad_toc : Defect::bad_header,
                            fmt::format("string of {} bytes in {} is too long", len,
                                        header_done ? where_entry() : std::string("the header")),
                            item_start);
            str.clear();
            in_string_body = true;
            str_remaining = static_cast<std::uint64_t>(len);
            return;
        }
        if (kind == Kind::integer) return on_int(decode_int());
        if (kind == Kind::offset) {
            std::uint64_t v = 0;
            for (std::size_t i = 1; i < fix_need; ++i) v |= std::uint64_t{fix[i]} << (8 * (i - 1));
            return on_offset(fix[0], v);
        }
        on_bytes();
    }

    void on_bytes() {
        auto& h = sum.header;
        switch (field) {
            case F::magic:
                if (std::memcmp(fix.data(), "PGDMP", 5) != 0)
                    return fail(Defect::bad_magic,
                                "not a pg_dump custom archive (bad magic: the file does not start "
                                "with PGDMP)",
                                0);
                return expect(F::version);
            case F::version:
                h.version_major = fix[0];
                h.version_minor = fix[1];
                h.version_rev = fix[2];
                if (h.version_major != 1 || h.version_minor > max_minor)
                    return fail(
                        Defect::unsupported_version,
                        fmt::format("unsupported archive version {}.{} in file header (this "
                                    "reader knows 1.{} to 1.{}: pg_dump 9.0 to 18)",
                                    h.version_major, h.version_minor, min_minor, max_minor),
                        5);
                if (h.version_minor < min_minor)
                    return fail(
                        Defect::unsupported_version,
                        fmt::format("archive version {}.{} is older than 1.{} (pg_dump 9.0), "
                                    "which this reader does not read",
                                    h.version_major, h.version_minor, min_minor),
                        5);
                return expect(F::int_size);
            case F::int_size:
                h.int_size = fix[0];
                if (h.int_size < 1 || h.int_size > 8)
                    return fail(
                        Defect::bad_header,
                        fmt::format("integer size {} in file header is not in 1..8", h.int_size),
                        item_start);
                return expect(F::off_size);
            case F::off_size:
                h.offset_size = fix[0];
                if (h.offset_size < 1 || h.offset_size > 8)
                    return fail(
                        Defect::bad_header,
                        fmt::format("offset size {} in file header is not in 1..8", h.offset_size),
                        item_start);
                return expect(F::format);
            case F::format:
                h.format = fix[0];
                if (h.format != 1)
                    return fail(
                        Defect::bad_header,
                        fmt::format("archive format {} in file header is not the custom format (1)",
                                    h.format),
                        item_start);
                return expect(minor() >= 15 ? F::comp_alg : F::comp_level);
            case F::comp_alg:
                if (fix[0] > 3)
                    return fail(
                        Defect::bad_header,
                        fmt::format("unknown compression algorithm {} in file header", fix[0]),
                        item_start);
                h.compression = static_cast<Compression>(fix[0]);
                return start_ts();
            case F::b_type:
                return on_block_type(fix[0]);
            default:
                return fail(Defect::bad_header, "internal: unexpected byte field", item_start);
        }
    }

    void start_ts() {
        ts_index = 0;
        expect(F::ts);
    }

    void on_int(std::int64_t v) {
        auto& h = sum.header;
        switch (field) {
            case F::comp_level:
                if (v < -1 || v > 9)
                    return fail(
                        Defect::bad_header,
                        fmt::format("compression level {} in file header is not in -1..9", v),
                        item_start);
                h.compression_level = static_cast<int>(v);
                h.compression = v == 0 ? Compression::none : Compression::gzip;
                return start_ts();
            case F::ts: {
                // pg_dump writes the fields of its localtime() struct tm: anything else is a
                // damaged header (and would overflow the arithmetic below).
                static constexpr std::array<const char*, 7> names{
                    "second", "minute", "hour", "day", "month", "year", "daylight saving flag"};
                static constexpr std::array<std::int64_t, 7> lo{0, 0, 0, 1, 0, 0, -1};
                static constexpr std::array<std::int64_t, 7> hi{61, 59, 23, 31, 11, 8099, 1};
                const auto i = static_cast<std::size_t>(ts_index);
                if (v < lo[i] || v > hi[i])
                    return fail(Defect::bad_header,
                                fmt::format("creation time in file header: {} {} is not in {}..{}",
                                            names[i], v, lo[i], hi[i]),
                                item_start);
                ts[i] = v;
                if (++ts_index < 7) return expect(F::ts);
                h.created = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", ts[5] + 1900,
                                        ts[4] + 1, ts[3], ts[2], ts[1], ts[0]);
                h.created_dst = ts[6] > 0;
                return expect(F::dbname);
            }
            case F::toc_count:
                if (v < 0 || v > opts.max_entries)
                    return fail(
                        Defect::bad_header,
                        fmt::format("TOC entry count {} in file header is not plausible", v),
                        item_start);
                h.toc_count = static_cast<int>(v);
                header_done = true;
                return start_entries();
            case F::e_dump_id:
                if (v <= 0 || v > std::numeric_limits<int>::max())
                    return fail(Defect::bad_toc,
                                fmt::format("{}: dump id {} out of range", where_entry(), v),
                                item_start);
                cur = TocEntry{};
                cur.toc_offset = item_start;
                cur.dump_id = static_cast<int>(v);
                if (!in_trailer && index_by_id.count(cur.dump_id))
                    return fail(Defect::bad_toc,
                                fmt::format("{}: dump id {} appears twice", where_entry(), v),
                                item_start);
                return expect(F::e_had_dumper);
            case F::e_had_dumper:
                cur.had_dumper = v != 0;
                return expect(F::e_tableoid);
            case F::e_section:
                if (v < 1 || v > 4)
                    return fail(Defect::bad_toc,
                                fmt::format("{} (dump id {}): section {} is not in 1..4",
                                            where_entry(), cur.dump_id, v),
                                item_start);
                cur.section = static_cast<int>(v);
                return expect(F::e_defn);
            case F::e_relkind:
                cur.relkind = static_cast<int>(std::clamp<std::int64_t>(v, 0, 255));
                return expect(F::e_owner);
            case F::b_dump_id:
                return on_block_id(v);
            case F::b_chunk_len:
                return on_chunk_len(v);
            case F::b_blob_oid:
                return on_blob_oid(v);
            case F::t_count:
                if (v != sum.header.toc_count)
                    return fail(Defect::trailing_garbage, {}, item_start);
                return expect(F::e_dump_id);
            default:
                return fail(Defect::bad_header, "internal: unexpected integer field", item_start);
        }
    }

    void on_string(std::string s, bool present) {
        auto& h = sum.header;
        switch (field) {
            case F::dbname:
                h.dbname = std::move(s);
                return expect(F::server_version);
            case F::server_version:
                h.server_version = std::move(s);
                return expect(F::dump_version);
            case F::dump_version:
                h.pg_dump_version = std::move(s);
                return expect(F::toc_count);
            case F::e_tableoid:
                if (present && !parse_u32(s, cur.table_oid))
                    return fail(Defect::bad_toc,
                                fmt::format("{} (dump id {}): table oid is not a number",
                                            where_entry(), cur.dump_id),
                                item_start);
                return expect(F::e_oid);
            case F::e_oid:
                if (present && !parse_u32(s, cur.oid))
                    return fail(Defect::bad_toc,
                                fmt::format("{} (dump id {}): oid is not a number", where_entry(),
                                            cur.dump_id),
                                item_start);
                return expect(F::e_tag);
            case F::e_tag:
                cur.tag = std::move(s);
                return expect(F::e_desc);
            case F::e_desc:
                if (!present)
                    return fail(
                        Defect::bad_toc,
                        fmt::format("{} (dump id {}): no object type", where_entry(), cur.dump_id),
                        item_start);
                cur.desc = std::move(s);
                return expect(F::e_section);
            case F::e_defn:
                cur.defn_bytes = pos - item_start;
                return expect(F::e_drop);
            case F::e_drop:
                cur.drop_bytes = pos - item_start;
                return expect(F::e_copy);
            case F::e_copy:
                cur.copy_stmt = std::move(s);
                return expect(F::e_namespace);
            case F::e_namespace:
                cur.schema = std::move(s);
                return expect(F::e_tablespace);
            case F::e_tablespace:
                cur.tablespace = std::move(s);
                if (minor() >= 14) return expect(F::e_tableam);
                return expect(minor() >= 16 ? F::e_relkind : F::e_owner);
            case F::e_tableam:
                cur.tableam = std::move(s);
                return expect(minor() >= 16 ? F::e_relkind : F::e_owner);
            case F::e_owner:
                cur.owner = std::move(s);
                return expect(F::e_withoids);
            case F::e_withoids:
                if (s == "true")
                    return fail(Defect::bad_toc,
                                fmt::format("{} (dump id {}): tables WITH OIDS are not supported",
                                            where_entry(), cur.dump_id),
                                item_start);
                return expect(F::e_dep);
            case F::e_dep: {
                if (!present) return expect(F::e_offset);
                int dep = 0;
                if (!parse_int(s, dep))
                    return fail(Defect::bad_toc,
                                fmt::format("{} (dump id {}): dependency \"{}\" is not a dump id",
                                            where_entry(), cur.dump_id, s.substr(0, 40)),
                                item_start);
                cur.dependencies.push_back(dep);
                return expect(F::e_dep);
            }
            default:
                return fail(Defect::bad_header, "internal: unexpected string field", item_start);
        }
    }

    void on_offset(std::uint8_t flag, std::uint64_t v) {
        if (flag < 1 || flag > 3)
            return fail(Defect::bad_toc,
                        fmt::format("{} (dump id {}): data offset state {} is not 1, 2 or 3",
                                    where_entry(), cur.dump_id, flag),
                        item_start);
        if (in_trailer) return on_trailer_offset(static_cast<OffsetState>(flag), v);
        cur.offset_state = static_cast<OffsetState>(flag);
        cur.offset = v;
        if (cur.offset_state == OffsetState::set) sum.offsets_set = true;
        entry_hashes.push_back(entry_hash);
        index_by_id[cur.dump_id] = sum.entries.size();
        sum.counts_by_desc[cur.desc]++;
        sum.entries.push_back(std::move(cur));
        cur = TocEntry{};
        if (static_cast<int>(sum.entries.size()) < sum.header.toc_count)
            return expect(F::e_dump_id);
        finish_toc();
    }

    void start_trailer() {
        in_trailer = true;
        trailer_start = pos;
        trailer_index = 0;
        if (sum.entries.empty()) {
            trailer_bad = true;
            return;
        }
        expect(F::t_count);
    }

    // An entry of the trailer is the copy of the TOC's entry at the same place when all its
    // bytes are the same but its offset, which now says where its block starts.
    void on_trailer_offset(OffsetState state, std::uint64_t v) {
        const auto i = trailer_index;
        const TocEntry& e = sum.entries[i];
        const bool same = entry_hash == entry_hashes[i] &&
                          (e.has_data() ? state == OffsetState::set && v == e.block_offset
                                        : state == OffsetState::no_data && v == e.offset);
        if (!same) return fail(Defect::trailing_garbage, {}, item_start);
        if (++trailer_index == sum.entries.size())
            trailer_done = true;
        else
            expect(F::e_dump_id);
    }

    void start_entries() {
        sum.entries.reserve(static_cast<std::size_t>(std::min(sum.header.toc_count, 100000)));
        if (sum.header.toc_count == 0) return finish_toc();
        expect(F::e_dump_id);
    }

    void finish_toc() {
        toc_done = true;
        next_data = 0;
        advance_next_data();
        expect(F::b_type);
    }

    void advance_next_data() {
        while (next_data < sum.entries.size() && !sum.entries[next_data].has_data()) ++next_data;
    }

    // ---- data blocks

    void on_block_type(std::uint8_t t) {
        block_start = item_start;
        if (t != blk_data && t != blk_blobs)
            return fail(
                Defect::unknown_block,
                fmt::format("unknown block type {} (expected 1, table data, or 3, large objects)",
                            t),
                item_start);
        block_type = t;
        expect(F::b_dump_id);
    }

    std::string describe(const TocEntry& e) const {
        std::string s = fmt::format("dump id {} ({}", e.dump_id, e.desc);
        if (!e.schema.empty()) s += " " + e.schema;
        if (!e.tag.empty()) s += " " + e.tag;
        return s + ")";
    }

    void on_block_id(std::int64_t id) {
        const auto it = id > 0 && id <= std::numeric_limits<int>::max()
                            ? index_by_id.find(static_cast<int>(id))
                            : index_by_id.end();
        if (it == index_by_id.end())
            return fail(Defect::out_of_order_block,
                        fmt::format("data block for dump id {}, which is not in the TOC", id),
                        block_start);
        const auto& e = sum.entries[it->second];
        if (!e.has_data())
            return fail(
                Defect::out_of_order_block,
                fmt::format("data block for {}, which the TOC says has no data", describe(e)),
                block_start);
        if (e.data_seen)
            return fail(Defect::out_of_order_block,
                        fmt::format("second data block for {}", describe(e)), block_start);
        if (it->second != next_data)
            return fail(Defect::out_of_order_block,
                        fmt::format("data block for {} where the block of {} was expected",
                                    describe(e), describe(sum.entries[next_data])),
                        block_start);
        const bool is_blobs = e.desc == "BLOBS";
        if ((block_type == blk_blobs) != is_blobs)
            return fail(Defect::unknown_block,
                        fmt::format("block type {} does not match {}", block_type, describe(e)),
                        block_start);
        if (e.offset_state == OffsetState::set && e.offset != block_start)
            return fail(
                Defect::bad_offset,
                fmt::format("the TOC puts the data of {} at offset {} but its block starts at {}",
                            describe(e), e.offset, block_start),
                block_start);
        block_entry = it->second;
        auto& ent = sum.entries[block_entry];
        ent.data_seen = true;
        ent.block_offset = block_start;
        if (is_blobs) return expect(F::b_blob_oid);
        start_stream();
        expect(F::b_chunk_len);
    }

    bool start_stream() {
        rows = RowCounter{};
        block_has_chunks = false;
        if (!opts.inflate_data) return true;  // structure only: the payload is skipped
        inflater = detail::make_inflater(sum.header.compression);
        if (!inflater) {
            fail(Defect::unsupported_compression,
                 fmt::format("unsupported compression {}", to_string(sum.header.compression)),
                 item_start);
            return false;
        }
        return true;
    }

    void on_blob_oid(std::int64_t oid) {
        if (oid == 0) return end_block();
        if (oid < 0 || oid > 0xffffffffLL)
            return fail(Defect::bad_toc,
                        fmt::format("large object oid {} out of range in the block of {}", oid,
                                    describe(sum.entries[block_entry])),
                        item_start);
        sum.entries[block_entry].large_objects++;
        if (!start_stream()) return;
        expect(F::b_chunk_len);
    }

    void on_chunk_len(std::int64_t len) {
        auto& e = sum.entries[block_entry];
        if (len < 0)
            return fail(
                Defect::truncated_block,
                fmt::format("negative chunk length {} in the block of {}", len, describe(e)),
                item_start);
        if (len == 0) {
            const std::string err = inflater ? inflater->end() : std::string();
            if (!err.empty())
                return fail(Defect::bad_compressed_stream,
                            fmt::format("{} in the block of {}", err, describe(e)), item_start);
            if (block_type == blk_blobs) return expect(F::b_blob_oid);
            if (inflater && !e.copy_stmt.empty() && e.desc == "TABLE DATA") e.rows = rows.rows();
            return end_block();
        }
        e.stored_bytes += static_cast<std::uint64_t>(len);
        block_has_chunks = true;
        in_chunk_body = true;
        chunk_remaining = static_cast<std::uint64_t>(len);
        chunk_start = item_start;
    }

    void on_chunk_bytes(io::Bytes b) {
        if (!inflater) return;  // structure only
        auto& e = sum.entries[block_entry];
        const bool count_rows = block_type == blk_data && !e.copy_stmt.empty();
        const std::string err = inflater->feed(b, [&](io::Bytes out) {
            e.data_bytes += out.size();
            sum.data_bytes += out.size();
            if (count_rows) rows.feed(out);
        });
        if (!err.empty())
            fail(Defect::bad_compressed_stream,
                 fmt::format("{} in the block of {}", err, describe(e)), chunk_start);
    }

    void end_block() {
        inflater.reset();
        ++next_data;
        advance_next_data();
        expect(F::b_type);
    }

    // ---- end of stream

    void finish() {
        if (finished) return;
        finished = true;
        sum.archive_bytes = pos;
        if (in_trailer) {
            in_trailer = false;
            if (trailer_bad || !trailer_done)
                fail(Defect::trailing_garbage,
                     fmt::format("{} bytes of trailing garbage after the last data block (not a "
                                 "copy of the TOC)",
                                 pos - trailer_start),
                     trailer_start);
            else
                sum.toc_copy_bytes = pos - trailer_start;
        } else if (!failed) {
            if (pos == 0) {
                fail(Defect::empty, "empty archive (0 bytes)", 0);
            } else if (field == F::magic) {
                if (std::memcmp(fix.data(), "PGDMP", fix_have) != 0)
                    fail(Defect::bad_magic, "not a pg_dump custom archive (bad magic)", 0);
                else
                    fail(Defect::truncated_header,
                         fmt::format("truncated header: the archive ends after {} bytes", pos),
                         pos);
            } else if (!header_done) {
                fail(Defect::truncated_header,
                     fmt::format("truncated header: the archive ends after {} bytes", pos), pos);
            } else if (!toc_done) {
                fail(Defect::truncated_toc,
                     fmt::format("truncated TOC: the archive ends in {} after {} bytes",
                                 where_entry(), pos),
                     pos);
            } else if (field != F::b_type || fix_have != 0) {
                fail(Defect::truncated_block,
                     fmt::format(
                         "truncated data block of {}: the archive ends after {} bytes",
                         describe(sum.entries[std::min(block_entry, sum.entries.size() - 1)]), pos),
                     pos);
            } else if (next_data < sum.entries.size()) {
                fail(Defect::missing_block,
                     fmt::format("{} has data but the archive ends (at {} bytes) before its block",
                                 describe(sum.entries[next_data]), pos),
                     pos);
            }
        }
        for (const auto& e : sum.entries) {
            if (e.desc == "TABLE DATA")
                sum.tables.push_back(TableStats{e.schema, e.tag, e.dump_id, e.rows, e.data_bytes});
            sum.large_objects += e.large_objects;
        }
    }
};

ArchiveReader::ArchiveReader(ReaderOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->opts = options;
}
ArchiveReader::~ArchiveReader() = default;

void ArchiveReader::update(io::Bytes data) {
    if (impl_->finished || impl_->failed) return;
    try {
        impl_->update(data);
    } catch (const std::bad_alloc&) {
        impl_->fail(Defect::bad_toc, "out of memory while reading the archive", impl_->pos);
    }
}

void ArchiveReader::finish() {
    impl_->finish();
}
bool ArchiveReader::failed() const noexcept {
    return impl_->failed;
}
bool ArchiveReader::header_done() const noexcept {
    return impl_->header_done;
}
bool ArchiveReader::toc_done() const noexcept {
    return impl_->toc_done;
}
VerifyResult ArchiveReader::result() const {
    return impl_->res;
}
const ArchiveSummary& ArchiveReader::summary() const noexcept {
    return impl_->sum;
}
const ArchiveSummary& ArchiveReader::check() {
    finish();
    if (impl_->failed)
        throw FormatError("invalid pg_dump archive: " + impl_->res.message, impl_->res.offset);
    return impl_->sum;
}

std::pair<VerifyResult, ArchiveSummary> verify_archive(io::Source& source) {
    ArchiveReader reader;
    std::vector<std::byte> buf(io::default_buffer_size);
    for (;;) {
        const std::size_t n = source.read(buf);
        if (n == 0) break;
        reader.update(io::Bytes(buf.data(), n));
        if (reader.failed()) break;
    }
    reader.finish();
    return {reader.result(), reader.summary()};
}

std::pair<VerifyResult, ArchiveSummary> open_and_verify(io::Source& source,
                                                        const std::string& name) {
    std::vector<std::byte> head(4);
    head.resize(io::read_full(source, head));
    const bool zst = io::is_zstd(head);
    io::ReplaySource all(std::move(head), source);
    if (!zst) return verify_archive(all);
    io::ZstdSource plain(all);
    try {
        return verify_archive(plain);
    } catch (const FormatError& e) {
        VerifyResult r;
        r.defect = Defect::bad_compressed_stream;
        r.message = std::string(e.message()) + " (" + name + ")";
        return {r, ArchiveSummary{}};
    }
}

std::string verification_json(const VerifyResult& r, const ArchiveSummary& s) {
    auto j = nlohmann::json::parse(summary_json(s, true));
    j["schema"] = "dolibak.inspect/1";  // docs/json.md
    j["ok"] = r.ok();
    j["defect"] = to_string(r.defect);
    if (!r.ok()) {
        j["message"] = r.message;
        j["offset"] = r.offset;
    }
    return j.dump(2);
}

std::string manifest_summary_json(const ArchiveSummary& s) {
    using nlohmann::json;
    const auto& h = s.header;
    json j;
    j["format_version"] = h.version_string();
    j["compression"] = to_string(h.compression);
    j["dbname"] = h.dbname;
    j["server_version"] = h.server_version;
    j["pg_dump_version"] = h.pg_dump_version;
    j["toc_entries"] = h.toc_count;
    j["archive_bytes"] = s.archive_bytes;
    j["data_bytes"] = s.data_bytes;
    j["large_objects"] = s.large_objects;
    j["counts_by_type"] = s.counts_by_desc;
    j["table_count"] = s.tables.size();
    json tables = json::object();
    for (const auto& t : s.tables) {
        const std::string name = t.schema == "public" ? t.name : t.schema + "." + t.name;
        tables[name] = json::array({t.rows ? json(*t.rows) : json(nullptr), t.bytes});
    }
    j["tables"] = std::move(tables);
    return j.dump();
}

std::optional<RecordedCounts> recorded_counts(const ArchiveSummary& toc,
                                              const std::string& manifest_summary) {
    using nlohmann::json;
    const auto j = json::parse(manifest_summary, nullptr, false);
    if (!j.is_object() || !j.contains("tables") || !j["tables"].is_object() ||
        !j.contains("table_count") || !j["table_count"].is_number_unsigned() ||
        !j.contains("data_bytes") || !j["data_bytes"].is_number_unsigned() ||
        !j.contains("large_objects") || !j["large_objects"].is_number_unsigned())
        return std::nullopt;
    const json& recorded = j["tables"];
    RecordedCounts rc;
    rc.data_bytes = j["data_bytes"].get<std::uint64_t>();
    rc.large_objects = j["large_objects"].get<std::uint64_t>();
    auto& out = rc.tables;
    std::set<std::string> names;
    for (const auto& e : toc.entries) {
        if (e.desc != "TABLE DATA") continue;
        // The key manifest_summary_json gives a table: two TOC tables under one name (a
        // public table named "a.b" beside a.b) cannot be told apart, nor counted.
        const std::string name = e.schema == "public" ? e.tag : e.schema + "." + e.tag;
        if (!names.insert(name).second) return std::nullopt;
        const auto it = recorded.find(name);
        if (it == recorded.end() || !it->is_array() || it->size() != 2 ||
            !(*it)[1].is_number_unsigned())
            return std::nullopt;
        TableStats t{e.schema, e.tag, e.dump_id, std::nullopt, (*it)[1].get<std::uint64_t>()};
        // Rows were counted for COPY data, and only for it.
        if ((*it)[0].is_number_unsigned()) {
            if (e.copy_stmt.empty()) return std::nullopt;
            t.rows = (*it)[0].get<std::uint64_t>();
        } else if (!(*it)[0].is_null() || !e.copy_stmt.empty()) {
            return std::nullopt;
        }
        out.push_back(std::move(t));
    }
    if (out.size() != recorded.size() || out.size() != j["table_count"].get<std::uint64_t>())
        return std::nullopt;
    return rc;
}

ArchiveSummary read_archive(io::Source& source) {
    auto [result, summary] = open_and_verify(source, "archive");
    if (!result.ok())
        throw FormatError("invalid pg_dump archive: " + result.message, result.offset);
    return summary;
}

ArchiveSummary read_archive(const std::filesystem::path& path) {
    io::FileSource src(path);
    try {
        return read_archive(src);
    } catch (Error& e) {
        e.with_context("while reading " + path.string());
        throw;
    }
}

// ---- listing

bool selected_by_default(const TocEntry& e) {
    const std::string& d = e.desc;
    if (d == "ENCODING" || d == "STDSTRINGS" || d == "SEARCHPATH") return false;
    if (d == "DATABASE" || d == "DATABASE PROPERTIES") return false;
    if ((d == "ACL" || d == "COMMENT" || d == "SECURITY LABEL") && e.tag.rfind("DATABASE ", 0) == 0)
        return false;
    if (d == "<Init>" && e.tag == "Max OID") return false;
    return true;
}

namespace {
std::string sanitize(const std::string& s, bool hyphen) {
    if (s.empty() && hyphen) return "-";
    std::string out = s;
    for (auto& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}
}  // namespace

std::string listing_line(const TocEntry& e) {
    return fmt::format("{}; {} {} {} {} {} {}", e.dump_id, e.table_oid, e.oid, e.desc,
                       sanitize(e.schema, true), sanitize(e.tag, false), sanitize(e.owner, false));
}

std::string listing(const ArchiveSummary& s, const ListingOptions& o) {
    std::string out;
    const auto& h = s.header;
    if (o.header) {
        out += ";\n";
        out += fmt::format("; Archive created at {}\n", h.created);
        out += fmt::format(";     dbname: {}\n", sanitize(h.dbname, false));
        out += fmt::format(";     TOC Entries: {}\n", h.toc_count);
        out += fmt::format(";     Compression: {}\n", to_string(h.compression));
        out += fmt::format(";     Dump Version: {}\n", h.version_string());
        out += ";     Format: CUSTOM\n";
        out += fmt::format(";     Integer: {} bytes\n", h.int_size);
        out += fmt::format(";     Offset: {} bytes\n", h.offset_size);
        if (!h.server_version.empty())
            out += fmt::format(";     Dumped from database version: {}\n", h.server_version);
        if (!h.pg_dump_version.empty())
            out += fmt::format(";     Dumped by pg_dump version: {}\n", h.pg_dump_version);
        out += ";\n;\n; Selected TOC Entries:\n;\n";
    }
    for (const auto& e : s.entries) {
        if (o.verbose || selected_by_default(e)) out += listing_line(e) + "\n";
        if (o.verbose && !e.dependencies.empty()) {
            out += ";\tdepends on:";
            for (int d : e.dependencies) out += fmt::format(" {}", d);
            out += "\n";
        }
    }
    return out;
}

std::string summary_json(const ArchiveSummary& s, bool with_entries) {
    using nlohmann::json;
    const auto& h = s.header;
    json j;
    j["format_version"] = h.version_string();
    j["int_size"] = h.int_size;
    j["offset_size"] = h.offset_size;
    j["compression"] = to_string(h.compression);
    if (h.compression_level) j["compression_level"] = *h.compression_level;
    j["created"] = h.created;
    j["dbname"] = h.dbname;
    j["server_version"] = h.server_version;
    j["pg_dump_version"] = h.pg_dump_version;
    j["toc_entries"] = h.toc_count;
    j["offsets_set"] = s.offsets_set;
    j["toc_copy_bytes"] = s.toc_copy_bytes;
    j["archive_bytes"] = s.archive_bytes;
    j["data_bytes"] = s.data_bytes;
    j["large_objects"] = s.large_objects;
    j["counts_by_type"] = s.counts_by_desc;
    json tables = json::array();
    for (const auto& t : s.tables) {
        json tj{{"schema", t.schema}, {"name", t.name}, {"dump_id", t.dump_id}, {"bytes", t.bytes}};
        tj["rows"] = t.rows ? json(*t.rows) : json(nullptr);
        tables.push_back(std::move(tj));
    }
    j["tables"] = std::move(tables);
    if (with_entries) {
        json entries = json::array();
        for (const auto& e : s.entries) {
            json ej{{"dump_id", e.dump_id},
                    {"desc", e.desc},
                    {"schema", e.schema},
                    {"tag", e.tag},
                    {"owner", e.owner},
                    {"table_oid", e.table_oid},
                    {"oid", e.oid},
                    {"section", e.section},
                    {"had_dumper", e.had_dumper},
                    {"dependencies", e.dependencies},
                    {"has_data", e.has_data()},
                    {"toc_offset", e.toc_offset}};
            if (!e.tablespace.empty()) ej["tablespace"] = e.tablespace;
            if (!e.tableam.empty()) ej["tableam"] = e.tableam;
            if (e.relkind) ej["relkind"] = std::string(1, static_cast<char>(e.relkind));
            if (e.has_data()) {
                ej["data_offset"] = e.block_offset;
                ej["stored_bytes"] = e.stored_bytes;
                ej["data_bytes"] = e.data_bytes;
                if (e.rows) ej["rows"] = *e.rows;
                if (e.desc == "BLOBS") ej["large_objects"] = e.large_objects;
            }
            entries.push_back(std::move(ej));
        }
        j["entries"] = std::move(entries);
    }
    return j.dump(2);
}

}  // namespace dolibak::pgdump
