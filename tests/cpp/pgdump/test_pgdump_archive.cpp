// The native reader of pg_dump's custom format, on archives that the real pg_dump 15 makes
// from a generated Dolibarr-like database (to a file and through a pipe, compressed, -Z0,
// --inserts), on hand-built archives of the other format versions, and on corrupted ones.
#include "support/pgdump_testing.hpp"

#include <dolibak/io/zstd.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/pgdump/toc_filter.hpp>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

using namespace dolibak;
using namespace dolibak::pgdump;

namespace {

struct Variant {
    const char* name;
    std::vector<std::string> args;
    bool pipe;
};

const std::vector<Variant>& variants() {
    static const std::vector<Variant> v{
        {"file", {}, false},
        {"pipe", {}, true},
        {"z0-file", {"-Z0"}, false},
        {"z0-pipe", {"-Z0"}, true},
        {"inserts", {"--inserts"}, false},
        {"z9-pipe", {"-Z9"}, true},
    };
    return v;
}

// Archives made once per test program.
const test::TempDir& dir() {
    static test::TempDir d("pgdump-archive");
    return d;
}
std::filesystem::path archive(const std::string& name) {
    static std::map<std::string, std::filesystem::path> made;
    if (auto it = made.find(name); it != made.end()) return it->second;
    for (const auto& v : variants()) {
        if (name != v.name) continue;
        auto p = dir() / (name + ".dump");
        pgt::pg_dump_to(p, pgt::generated_db(), v.args, v.pipe);
        return made[name] = p;
    }
    throw Error("no variant " + name);
}

VerifyResult verify_bytes(std::string_view bytes, ArchiveSummary* out = nullptr) {
    io::MemorySource src(bytes);
    auto [r, s] = verify_archive(src);
    if (out) *out = s;
    return r;
}

// Feeds in pieces of random sizes (the push parser must not depend on chunking).
VerifyResult verify_chunked(std::string_view bytes, std::mt19937& rng,
                            ArchiveSummary* out = nullptr) {
    ArchiveReader r;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        const std::size_t n = std::min<std::size_t>(bytes.size() - pos, 1 + rng() % 300);
        r.update(io::as_bytes(bytes.substr(pos, n)));
        pos += n;
    }
    r.finish();
    if (out) *out = r.summary();
    return r.result();
}

}  // namespace

TEST_CASE("listing equals pg_restore -l and rows match the database, for every variant") {
    for (const auto& v : variants()) {
        CAPTURE(v.name);
        const auto path = archive(v.name);
        const auto s = read_archive(path);
        CHECK(pgt::without_comments(listing(s)) == pgt::pg_restore_list(path));
        CHECK(s.header.version_string() == "1.14-0");
        CHECK(s.header.dbname == pgt::generated_db());
        CHECK(s.offsets_set == !v.pipe);
        CHECK(s.large_objects == 1);
        CHECK(s.tables.size() > 250);
        CHECK(s.counts_by_desc.at("VIEW") == 3);
        CHECK(s.counts_by_desc.at("FUNCTION") >= 2);
        const bool inserts = std::string(v.name) == "inserts";
        if (std::string(v.name).rfind("z0", 0) == 0)
            CHECK(s.header.compression == Compression::none);
        else
            CHECK(s.header.compression == Compression::gzip);
        // Every COPY row count equals the database's: the proof used after a restore holds on
        // the source database itself.
        if (!inserts) {
            const auto rep =
                prove_restored(pgt::conn("prod", pgt::generated_db()), s, ProofOptions{});
            CHECK(rep.tables.size() == s.tables.size());
            const auto* odd = s.table("Odd Schema", "tab\nname");
            REQUIRE(odd);
            CHECK(odd->rows == 5u);
            const auto* zero = s.table("public", "zero_cols");
            REQUIRE(zero);
            CHECK(zero->rows == 2u);
        } else {
            for (const auto& t : s.tables) CHECK_FALSE(t.rows.has_value());
        }
    }
}

TEST_CASE("compressed and uncompressed archives carry the same data") {
    const auto a = read_archive(archive("file"));
    const auto b = read_archive(archive("z0-pipe"));
    REQUIRE(a.tables.size() == b.tables.size());
    for (std::size_t i = 0; i < a.tables.size(); ++i) {
        CHECK(a.tables[i].rows == b.tables[i].rows);
        CHECK(a.tables[i].bytes == b.tables[i].bytes);
    }
    CHECK(a.data_bytes == b.data_bytes);
    CHECK(std::filesystem::file_size(archive("z0-pipe")) >
          std::filesystem::file_size(archive("file")));
}

TEST_CASE("the reader does not depend on how the stream is cut") {
    std::mt19937 rng(42);
    for (const char* name : {"file", "z0-pipe"}) {
        const auto bytes = test::read_file(archive(name));
        ArchiveSummary s;
        const auto r = verify_chunked(bytes, rng, &s);
        CHECK(r.ok());
        CHECK(pgt::without_comments(listing(s)) ==
              pgt::without_comments(listing(read_archive(archive(name)))));
    }
}

TEST_CASE("verbose listing lists every entry with dependencies, like pg_restore -l -v") {
    const auto s = read_archive(archive("file"));
    ListingOptions o;
    o.verbose = true;
    const auto text = listing(s, o);
    CHECK(text.find(" ENCODING - ENCODING ") != std::string::npos);
    CHECK(text.find(";\tdepends on:") != std::string::npos);
    dolibak::process::ProcessOptions po;
    po.argv = {pgt::pg_bin() + "/pg_restore", "-l", "-v", archive("file").string()};
    auto r = dolibak::process::run(std::move(po));
    // pg_restore -v prints the dependency lines too: every line after the header matches.
    const auto ours = text.substr(text.find("; Selected TOC Entries:"));
    const auto theirs = r.out.substr(r.out.find("; Selected TOC Entries:"));
    CHECK(ours == theirs);
}

TEST_CASE("JSON summary") {
    const auto s = read_archive(archive("file"));
    const auto j = nlohmann::json::parse(summary_json(s));
    CHECK(j.at("format_version") == "1.14-0");
    CHECK(j.at("large_objects") == 1);
    CHECK(j.at("tables").size() == s.tables.size());
    CHECK(j.at("entries").size() == s.entries.size());
}

TEST_CASE("TOC filter: drop the pooler function with its comment and ACL, drop every ACL") {
    const auto s = read_archive(archive("file"));
    TocFilter f;
    f.exclude.push_back(parse_rule("FUNCTION::user_lookup(*"));
    f.exclude.push_back(parse_rule("ACL"));
    const auto list = f.list(s);
    const auto ids = list_ids(list);
    int dropped_fn = 0;
    for (const auto& e : s.entries) {
        const bool kept = std::find(ids.begin(), ids.end(), e.dump_id) != ids.end();
        if (e.desc == "ACL") CHECK_FALSE(kept);
        if (e.tag.find("user_lookup") != std::string::npos) {
            CHECK_FALSE(kept);
            ++dropped_fn;
        }
        if (e.desc == "TABLE" || e.desc == "TABLE DATA") CHECK(kept);
        if (!selected_by_default(e)) CHECK_FALSE(kept);
    }
    CHECK(dropped_fn >= 2);  // the function and its comment
    // Archive order kept.
    CHECK(std::is_sorted(ids.begin(), ids.end(), [&](int a, int b) {
        auto pos = [&](int id) {
            for (std::size_t i = 0; i < s.entries.size(); ++i)
                if (s.entries[i].dump_id == id) return i;
            return s.entries.size();
        };
        return pos(a) < pos(b);
    }));
    // pg_restore accepts the list (SQL output mode, no database).
    const auto lf = dir() / "filter.list";
    test::write_file(lf, list);
    dolibak::process::ProcessOptions po;
    po.argv = {pgt::pg_bin() + "/pg_restore", "-L", lf.string(), "-f", "-",
               archive("pipe").string()};
    auto r = dolibak::process::run(std::move(po), std::nullopt, 256 * 1024 * 1024);
    CHECK(r.status.success());
    CHECK(r.out.find("user_lookup") == std::string::npos);
    CHECK(r.out.find("GRANT ") == std::string::npos);
    CHECK(r.out.find("CREATE TABLE public.llx_societe") != std::string::npos);
    CHECK_THROWS_AS(parse_rule("a:b:c:d:e"), ConfigError);
}

// ---- corruption

TEST_CASE("corruption: empty, wrong magic, 1 KB prefix, truncation at boundaries throughout") {
    const auto good = test::read_file(archive("file"));
    CHECK(verify_bytes("").defect == Defect::empty);
    CHECK(verify_bytes("PGD").defect == Defect::truncated_header);
    CHECK(verify_bytes("hello world").defect == Defect::bad_magic);
    auto bad = good;
    bad[1] = 'X';
    CHECK(verify_bytes(bad).defect == Defect::bad_magic);
    CHECK(verify_bytes(good.substr(0, 1024)).defect == Defect::truncated_toc);
    CHECK(verify_bytes(good.substr(0, 1024)).offset == 1024);
    CHECK(verify_bytes(good + "x").defect == Defect::trailing_garbage);
    CHECK(verify_bytes(good + "x").offset == good.size());

    ArchiveSummary s;
    REQUIRE(verify_bytes(good, &s).ok());
    // Every byte of the header and the start of the TOC.
    for (std::size_t n = 1; n < 3000; ++n) {
        const auto r = verify_bytes(good.substr(0, n));
        REQUIRE_FALSE(r.ok());
        CHECK((r.defect == Defect::truncated_header || r.defect == Defect::truncated_toc));
        CHECK(r.offset == n);
    }
    // Each truncation re-reads the prefix before it, so checking every boundary costs the square
    // of the archive's size (three minutes under ASan, for 3,000 entries): the first entries and
    // blocks (the header's neighbours, every kind of entry pg_dump writes first), the last ones,
    // and a regular sample between them, each at its boundary and just past it.
    const auto sampled = [](std::size_t i, std::size_t n, std::size_t head, std::size_t stride) {
        return i < head || i + head >= n || i % stride == 0;
    };
    // TOC entry boundaries, and one byte past them.
    REQUIRE(s.entries.size() > 1000);
    std::uint64_t previous = 0;
    int toc_checked = 0;
    for (std::size_t i = 0; i < s.entries.size(); ++i) {
        const auto& e = s.entries[i];
        INFO("dump id ", e.dump_id, " at ", e.toc_offset);
        REQUIRE(e.toc_offset > previous);  // offsets known, in order
        previous = e.toc_offset;
        if (!sampled(i, s.entries.size(), 64, 16)) continue;
        ++toc_checked;
        for (std::size_t k : {0, 1}) {
            const auto n = static_cast<std::size_t>(e.toc_offset) + k;
            const auto r = verify_bytes(good.substr(0, n));
            CHECK(r.defect == Defect::truncated_toc);
            CHECK(r.offset == n);
        }
    }
    CHECK(toc_checked > 250);
    // At a block's start: the block is missing; a few bytes in: the block is truncated.
    std::vector<const TocEntry*> with_data;
    for (const auto& e : s.entries)
        if (e.has_data()) with_data.push_back(&e);
    CHECK(with_data.size() > 250);
    int blocks = 0;
    for (std::size_t i = 0; i < with_data.size(); ++i) {
        if (!sampled(i, with_data.size(), 16, 8)) continue;
        const auto& e = *with_data[i];
        ++blocks;
        const auto at = static_cast<std::size_t>(e.block_offset);
        const auto r = verify_bytes(good.substr(0, at));
        CHECK(r.defect == Defect::missing_block);
        CHECK(r.message.find("dump id " + std::to_string(e.dump_id)) != std::string::npos);
        for (std::size_t k : {1, 7}) {
            const auto r2 = verify_bytes(good.substr(0, at + k));
            CHECK(r2.defect == Defect::truncated_block);
        }
        // Out of order: a wrong block type byte.
        auto t = good;
        t[at] = 7;
        const auto r3 = verify_bytes(t);
        CHECK(r3.defect == Defect::unknown_block);
        CHECK(r3.offset == at);
    }
    CHECK(blocks > 60);
    CHECK(verify_bytes(good.substr(0, good.size() - 1)).defect == Defect::truncated_block);
}

TEST_CASE("corruption: offsets that do not match, and blocks swapped") {
    const auto good = test::read_file(archive("file"));
    ArchiveSummary s;
    REQUIRE(verify_bytes(good, &s).ok());
    // Swapping two adjacent blocks: the reader sees a block out of order.
    const TocEntry* a = nullptr;
    const TocEntry* b = nullptr;
    for (std::size_t i = 0; i + 1 < s.entries.size(); ++i) {
        if (s.entries[i].has_data() && s.entries[i + 1].has_data() &&
            s.entries[i].desc == "TABLE DATA") {
            a = &s.entries[i];
            b = &s.entries[i + 1];
            break;
        }
    }
    REQUIRE(a);
    const auto sa = static_cast<std::size_t>(a->block_offset),
               sb = static_cast<std::size_t>(b->block_offset);
    std::size_t eb = good.size();
    for (const auto& e : s.entries)
        if (e.has_data() && e.block_offset > sb) {
            eb = static_cast<std::size_t>(e.block_offset);
            break;
        }
    const auto swapped =
        good.substr(0, sa) + good.substr(sb, eb - sb) + good.substr(sa, sb - sa) + good.substr(eb);
    const auto r = verify_bytes(swapped);
    CHECK(r.defect == Defect::out_of_order_block);
    CHECK(r.offset == sa);
    // A TOC offset that does not point at its block.
    std::string pattern(1, '\2');
    for (int i = 0; i < 8; ++i) pattern += static_cast<char>((a->offset >> (8 * i)) & 0xff);
    const auto at = good.find(pattern);
    REQUIRE(at != std::string::npos);
    REQUIRE(at < sa);
    auto moved = good;
    moved[at + 1] = static_cast<char>(moved[at + 1] ^ 0x01);
    const auto rs = verify_bytes(moved);
    CHECK(rs.defect == Defect::bad_offset);
    CHECK(rs.offset == sa);
    const auto pipe = test::read_file(archive("pipe"));
    ArchiveSummary ps;
    REQUIRE(verify_bytes(pipe, &ps).ok());
    const auto* pa = ps.find(a->dump_id);
    const auto* pb = ps.find(b->dump_id);
    const auto psa = static_cast<std::size_t>(pa->block_offset),
               psb = static_cast<std::size_t>(pb->block_offset);
    std::size_t peb = pipe.size();
    for (const auto& e : ps.entries)
        if (e.has_data() && e.block_offset > psb) {
            peb = static_cast<std::size_t>(e.block_offset);
            break;
        }
    const auto pswapped = pipe.substr(0, psa) + pipe.substr(psb, peb - psb) +
                          pipe.substr(psa, psb - psa) + pipe.substr(peb);
    const auto r2 = verify_bytes(pswapped);
    CHECK(r2.defect == Defect::out_of_order_block);
    CHECK(r2.offset == psa);
}

TEST_CASE("corruption: bit flips are rejected or harmless, never a crash") {
    const auto good = test::read_file(archive("pipe"));
    ArchiveSummary s;
    REQUIRE(verify_bytes(good, &s).ok());
    std::mt19937 rng(7);
    int rejected = 0;
    // Flips in the data blocks (the TOC's SQL text carries no check of its own).
    std::size_t first_block = good.size();
    for (const auto& e : s.entries)
        if (e.has_data()) first_block = std::min<std::size_t>(first_block, e.block_offset);
    for (int i = 0; i < 150; ++i) {
        auto t = good;
        const std::size_t at = first_block + rng() % (t.size() - first_block);
        t[at] = static_cast<char>(t[at] ^ (1 << (rng() % 8)));
        const auto r = verify_bytes(t);
        if (!r.ok()) {
            ++rejected;
            CHECK(r.offset <= t.size());
            CHECK_FALSE(r.message.empty());
        }
    }
    CHECK(rejected >= 140);  // zlib checks its data; structure flips are caught (an oid may not be)
    // Flips in the header and the TOC: a broken structure is rejected where it breaks; a flip
    // inside SQL text or a name is harmless to the reader (it parses the same entries).
    int toc_rejected = 0, toc_harmless = 0;
    for (int i = 0; i < 300; ++i) {
        auto t = good;
        const std::size_t at = rng() % first_block;
        t[at] = static_cast<char>(t[at] ^ (1 << (rng() % 8)));
        ArchiveSummary ts;
        const auto r = verify_bytes(t, &ts);
        INFO("flip at ", at, ": ", r.message);
        if (r.ok()) {
            ++toc_harmless;
            CHECK(ts.entries.size() == s.entries.size());
        } else {
            ++toc_rejected;
            CHECK(r.offset <= t.size());
            CHECK_FALSE(r.message.empty());
        }
    }
    CHECK(toc_rejected > 0);
    CHECK(toc_harmless > 0);
    // A flip inside a compressed stream is a bad compressed stream.
    const auto* big = s.table("public", "llx_facturedet");
    REQUIRE(big);
    const auto* e = s.find(big->dump_id);
    auto t = good;
    const auto mid = static_cast<std::size_t>(e->block_offset) + 5 + 5 + 5 + e->stored_bytes / 2;
    t[mid] = static_cast<char>(t[mid] ^ 0x10);
    CHECK(verify_bytes(t).defect == Defect::bad_compressed_stream);
}

// ---- hand-built archives for the other format versions

namespace {

struct Builder {
    int minor;
    std::string out;
    std::vector<long long> tm = {5, 4, 3, 2, 0, 124, 0};  // 2024-01-02 03:04:05
    void byte(int b) { out += static_cast<char>(b); }
    void integer(long long v) {
        byte(v < 0 ? 1 : 0);
        unsigned long long u = static_cast<unsigned long long>(v < 0 ? -v : v);
        for (int i = 0; i < 4; ++i) byte(static_cast<int>((u >> (8 * i)) & 0xff));
    }
    void str(const std::string* s) {
        if (!s) return integer(-1);
        integer(static_cast<long long>(s->size()));
        out += *s;
    }
    void str(const std::string& s) { str(&s); }
    void offset(int flag, unsigned long long v) {
        byte(flag);
        for (int i = 0; i < 8; ++i) byte(static_cast<int>((v >> (8 * i)) & 0xff));
    }
    void header(Compression c, int entries) {
        out += "PGDMP";
        byte(1);
        byte(minor);
        byte(0);
        byte(4);
        byte(8);
        byte(1);
        if (minor >= 15)
            byte(static_cast<int>(c));
        else
            integer(c == Compression::none ? 0 : -1);
        for (long long v : tm) integer(v);
        str("db");
        str("15.1");
        str("15.1");
        integer(entries);
    }
    void entry(int id, const std::string& desc, const std::string& tag, bool data,
               const std::string& copy, std::vector<int> deps, int relkind) {
        integer(id);
        integer(data ? 1 : 0);
        str("0");
        str("16400");
        str(tag);
        str(desc);
        integer(data ? 3 : 2);
        str("CREATE ...;");
        str("DROP ...;");
        str(copy);
        str("public");
        str("");
        if (minor >= 14) str("heap");
        if (minor >= 16) integer(relkind);
        str("owner");
        str("false");
        for (int d : deps) str(std::to_string(d));
        str(nullptr);
        offset(data ? 1 : 3, 0);
    }
    void block(int id, const std::string& compressed, std::size_t chunk) {
        byte(1);
        integer(id);
        for (std::size_t i = 0; i < compressed.size(); i += chunk) {
            const auto part = compressed.substr(i, chunk);
            integer(static_cast<long long>(part.size()));
            out += part;
        }
        integer(0);
    }
};

std::string compress(Compression c, const std::string& data) {
    std::string out;
    if (c == Compression::none) return data;
    if (c == Compression::gzip) {
        uLongf n = compressBound(static_cast<uLong>(data.size()));
        out.resize(n);
        compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                  reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()), 6);
        out.resize(n);
    } else if (c == Compression::zstd) {
        out.resize(ZSTD_compressBound(data.size()));
        out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
    } else {
        out.resize(LZ4F_compressFrameBound(data.size(), nullptr));
        out.resize(LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), nullptr));
    }
    return out;
}

std::string copy_data(int rows) {
    std::string s;
    for (int i = 0; i < rows; ++i) s += std::to_string(i) + "\tname " + std::to_string(i) + "\n";
    return s + "\\.\n\n\n";
}

}  // namespace

TEST_CASE("hand-built archives of versions 1.12 to 1.16, every compression") {
    for (int minor : {12, 13, 14, 15, 16}) {
        const std::vector<Compression> comps =
            minor >= 15 ? std::vector<Compression>{Compression::none, Compression::gzip,
                                                   Compression::lz4, Compression::zstd}
                        : std::vector<Compression>{Compression::none, Compression::gzip};
        for (auto c : comps) {
            CAPTURE(minor);
            CAPTURE(to_string(c));
            Builder b{minor, {}};
            b.header(c, 3);
            b.entry(10, "TABLE", "t", false, "", {}, 'r');
            b.entry(11, "TABLE DATA", "t", true, "COPY public.t (a, b) FROM stdin;\n", {10}, 'r');
            b.entry(12, "COMMENT", "TABLE t", false, "", {10}, 0);
            const auto data = copy_data(1000);
            b.block(11, compress(c, data), 97);
            std::mt19937 rng(static_cast<unsigned>(minor));
            ArchiveSummary s;
            const auto r = verify_chunked(b.out, rng, &s);
            REQUIRE_MESSAGE(r.ok(), r.message);
            CHECK(s.header.version_minor == minor);
            CHECK(s.header.compression == c);
            CHECK(s.header.compression_level.has_value() == (minor < 15));
            CHECK(s.header.created == "2024-01-02 03:04:05");
            REQUIRE(s.entries.size() == 3);
            CHECK(s.entries[0].tableam == (minor >= 14 ? "heap" : ""));
            CHECK(s.entries[0].relkind == (minor >= 16 ? 'r' : 0));
            CHECK(s.entries[1].dependencies == std::vector<int>{10});
            CHECK(s.entries[1].rows == 1000u);
            CHECK(s.entries[1].data_bytes == data.size());
            CHECK(listing_line(s.entries[1]) == "11; 0 16400 TABLE DATA public t owner");
            // The same archive cut short inside its block.
            const auto r2 = verify_bytes(b.out.substr(0, b.out.size() - 6));
            CHECK(r2.defect == Defect::truncated_block);
            if (c != Compression::none) {
                // A block whose compressed stream stops before its terminator.
                Builder b2{minor, {}};
                b2.header(c, 3);
                b2.entry(10, "TABLE", "t", false, "", {}, 'r');
                b2.entry(11, "TABLE DATA", "t", true, "COPY public.t (a, b) FROM stdin;\n", {10},
                         'r');
                b2.entry(12, "COMMENT", "TABLE t", false, "", {10}, 0);
                const auto z = compress(c, data);
                b2.block(11, z.substr(0, z.size() - 8), 97);
                CHECK(verify_bytes(b2.out).defect == Defect::bad_compressed_stream);
            }
        }
    }
}

TEST_CASE("rows are counted per line up to the end marker, however the data is split") {
    struct Case {
        std::string data;
        std::uint64_t rows;
    };
    const std::vector<Case> cases{
        {"", 0},
        {"a\tb\n", 1},
        {"a\nb", 2},            // a last line without its newline is a row
        {"\n\n", 2},            // empty lines are rows (a one-column table of '')
        {"\\.\n", 0},           // only the end marker
        {"a\n\\.\nb\nc\n", 1},  // nothing after the marker counts
        {"\\\\.\n\\.\n", 1},    // an escaped backslash then a dot is data
        {"x\\.\n", 1},          // the marker only as a whole line
        {"\\.x\n\\.", 2},       // a line that starts like the marker, then a cut marker
        {std::string(70000, 'z') + "\n\\.\n", 1},
    };
    std::mt19937 rng(7);
    for (const auto& c : cases) {
        for (std::size_t chunk :
             {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{97}}) {
            CAPTURE(c.data.substr(0, 20));
            CAPTURE(chunk);
            Builder b{16, {}};
            b.header(Compression::none, 2);
            b.entry(10, "TABLE", "t", false, "", {}, 'r');
            b.entry(11, "TABLE DATA", "t", true, "COPY public.t (a) FROM stdin;\n", {10}, 'r');
            b.block(11, c.data, chunk);
            ArchiveSummary whole, split;
            REQUIRE(verify_bytes(b.out, &whole).ok());
            REQUIRE(verify_chunked(b.out, rng, &split).ok());
            REQUIRE(whole.entries.size() == 2);
            CHECK(whole.entries[1].rows == c.rows);
            CHECK(split.entries[1].rows == c.rows);
        }
    }
}

TEST_CASE("versions outside 1.12..1.16 and bad header fields are refused with a clear reason") {
    for (int minor : {11, 17, 20}) {
        Builder b{minor, {}};
        b.header(Compression::none, 0);
        const auto r = verify_bytes(b.out);
        CHECK(r.defect == Defect::unsupported_version);
        CHECK(r.message.find("1." + std::to_string(minor)) != std::string::npos);
    }
    Builder ok{14, {}};
    ok.header(Compression::none, 0);
    CHECK(verify_bytes(ok.out).ok());
    auto t = ok.out;
    t[10] = 3;  // tar format
    CHECK(verify_bytes(t).defect == Defect::bad_header);
    t = ok.out;
    t[8] = 0;  // int size 0
    CHECK(verify_bytes(t).defect == Defect::bad_header);
    Builder b15{15, {}};
    b15.header(Compression::none, 0);
    b15.out[11] = 9;  // no such algorithm
    CHECK(verify_bytes(b15.out).defect == Defect::bad_header);
    // Creation time fields out of range (a fuzzer found a month of 2^63 - 1 overflowing).
    for (std::size_t field = 0; field < 7; ++field) {
        for (long long v : {-2LL, 99999LL, 4294967295LL}) {
            Builder bt{14, {}};
            bt.tm[field] = v;
            bt.header(Compression::none, 0);
            const auto r = verify_bytes(bt.out);
            INFO("field ", field, " = ", v, ": ", r.message);
            CHECK(r.defect == Defect::bad_header);
            CHECK(r.message.find("creation time") != std::string::npos);
        }
    }
    // A huge TOC count costs nothing: the archive is simply truncated.
    Builder big{14, {}};
    big.header(Compression::none, 9'000'000);
    CHECK(verify_bytes(big.out).defect == Defect::truncated_toc);
    // A huge string length in the TOC is refused at once.
    Builder hs{14, {}};
    hs.header(Compression::none, 1);
    hs.integer(1);
    hs.integer(0);
    hs.integer(1'000'000'000);
    CHECK(verify_bytes(hs.out).defect == Defect::bad_toc);
}

TEST_CASE("zstd-compressed archives (.dump.zst) are read transparently") {
    const auto plain = test::read_file(archive("z0-pipe"));
    io::MemorySink zs;
    {
        io::ZstdSink z(zs, {3, 2});
        z.write(io::as_bytes(plain));
        z.finish();
    }
    REQUIRE(zs.finished());
    io::MemorySource src(zs.data());
    auto [r, s] = open_and_verify(src, "x.dump.zst");
    CHECK(r.ok());
    CHECK(s.tables.size() > 250);
    io::MemorySource cut(std::string_view(zs.data()).substr(0, zs.data().size() / 2));
    auto [r2, s2] = open_and_verify(cut, "cut.dump.zst");
    CHECK_FALSE(r2.ok());
}

TEST_CASE(
    "the TOC's copy after the data (pg_dump 16 writing to a file) is read; any other "
    "trailer is trailing garbage, counted whole") {
    const std::string plain = test::read_file(archive("file"));
    const std::string appended = pgt::with_appended_toc_copy(plain);
    ArchiveSummary ref;
    REQUIRE(verify_bytes(plain, &ref).ok());
    const std::uint64_t copy = appended.size() - plain.size();
    REQUIRE(copy > 0);
    const std::uint64_t data_end = plain.size();  // where the copy starts
    std::mt19937 rng(16);

    ArchiveSummary s;
    const auto r = verify_chunked(appended, rng, &s);
    REQUIRE_MESSAGE(r.ok(), r.message);
    CHECK(s.toc_copy_bytes == copy);
    CHECK(s.archive_bytes == appended.size());
    CHECK_FALSE(s.offsets_set);  // the first TOC is the one pg_restore reads
    REQUIRE(s.tables.size() == ref.tables.size());
    for (std::size_t i = 0; i < s.tables.size(); ++i) CHECK(s.tables[i].rows == ref.tables[i].rows);
    // pg_restore reads it as it is.
    test::TempDir tmp;
    test::write_file(tmp / "appended.dump", appended);
    CHECK(pgt::pg_restore_list(tmp / "appended.dump") == pgt::pg_restore_list(archive("file")));

    auto garbage = [&](const std::string& bytes, std::uint64_t trailer) {
        CAPTURE(trailer);
        const auto g = verify_chunked(bytes, rng);
        CHECK(g.defect == Defect::trailing_garbage);
        CHECK(g.offset == data_end);
        CHECK(g.message.find(std::to_string(trailer) + " bytes of trailing garbage") !=
              std::string::npos);
    };
    // Any other trailer is reported with its whole size, however it is read.
    garbage(plain + std::string(100000, 'x'), 100000);
    garbage(appended + "x", copy + 1);
    garbage(appended.substr(0, appended.size() - 1), copy - 1);
    auto changed = appended;
    changed[data_end + copy / 2] ^= 0x20;  // a byte of the copy's entries
    garbage(changed, copy);
    changed = appended;
    changed[appended.size() - 1] ^= 0x01;  // the last entry's offset
    garbage(changed, copy);
    garbage(appended + appended.substr(data_end), 2 * copy);  // two copies
}
