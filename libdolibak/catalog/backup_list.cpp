// Reading a list of backups (store keys or bare time stamps) for the retention planner.
#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace dolibak::catalog {
namespace {

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r';
}

// The first space, tab or CR in [p, end), or end: 16 bytes at a time where there are 16 (a key
// is 20 to 60 characters), then byte by byte.
const char* find_space(const char* p, const char* end) noexcept {
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), cr = _mm_set1_epi8('\r');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const int hits = _mm_movemask_epi8(_mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, tab)), _mm_cmpeq_epi8(v, cr)));
        if (hits != 0) return p + __builtin_ctz(static_cast<unsigned>(hits));
        p += 16;
    }
#endif
    while (p < end && !is_space(*p)) ++p;
    return p;
}

}  // namespace

retention::BackupList read_backup_list(std::string text, std::string_view default_half,
                                       std::size_t* manifests_skipped) {
    retention::BackupList out(std::move(text));
    const std::string_view all = out.arena();
    out.reserve(static_cast<std::size_t>(std::count(all.begin(), all.end(), '\n')) + 1);
    std::size_t line_no = 0;
    if (manifests_skipped) *manifests_skipped = 0;
    const char* const base = all.data();
    const char* at = base;
    const char* const end = base + all.size();
    while (at != end) {
        const auto* nl = static_cast<const char*>(std::memchr(at, '\n', end - at));
        const char* const line_end = nl ? nl : end;
        const std::string_view line(at, static_cast<std::size_t>(line_end - at));
        at = nl ? nl + 1 : end;
        ++line_no;
        // Up to 3 fields are valid; a fourth is only counted, to be refused (no allocation).
        std::array<std::string_view, 4> field_buf;
        std::size_t n_fields = 0;
        const char* p = line.data();
        while (p < line_end && n_fields < field_buf.size()) {
            while (p < line_end && is_space(*p)) ++p;
            const char* const start = p;
            p = find_space(p, line_end);
            if (p > start) field_buf[n_fields++] = std::string_view(start, p - start);
        }
        const std::span<const std::string_view> fields(field_buf.data(), n_fields);
        if (fields.empty() || fields[0].front() == '#') continue;
        auto bad = [&](const std::string& why) {
            return ConfigError("backup list line " + std::to_string(line_no) + " ('" +
                               std::string(line) + "'): " + why);
        };
        if (fields.size() > 3)
            throw bad(
                "expected a key or time stamp, then optionally ok|failed and "
                "verified-ok|verified-failed");
        bool ok = true;
        retention::Verification verified = retention::Verification::unknown;
        bool seen_ok = false, seen_verified = false;
        for (std::size_t f = 1; f < fields.size(); ++f) {
            const auto w = fields[f];
            if (w == "ok" || w == "failed") {
                if (seen_ok) throw bad("'ok' or 'failed' given twice");
                seen_ok = true;
                ok = w == "ok";
            } else if (w == "verified-ok" || w == "verified-failed") {
                if (seen_verified) throw bad("'verified-ok' or 'verified-failed' given twice");
                seen_verified = true;
                verified = w == "verified-ok" ? retention::Verification::good
                                              : retention::Verification::failed;
            } else {
                throw bad("'" + std::string(w) +
                          "' is none of ok, failed, verified-ok, verified-failed");
            }
        }
        const std::string_view key = fields[0];
        const auto key_at = static_cast<std::size_t>(key.data() - base);
        if (const auto k = parse_store_key_view(key)) {
            if (!is_backup_object(k->kind)) {
                if (manifests_skipped) ++*manifests_skipped;
                continue;
            }
            out.add_from_arena(key_at, key.size(), k->time, k->half, ok, verified);
            continue;
        }
        if (const auto t = try_parse_timestamp(key)) {
            out.add_from_arena(key_at, key.size(), *t, default_half, ok, verified);
            continue;
        }
        if (key.size() == 16) {
            try {
                parse_timestamp(key);
            } catch (const ConfigError& e) {
                throw bad(e.what());
            }
        }
        throw bad(
            "not a time stamp (YYYYMMDDTHHMMSSZ) nor a backup key "
            "(<prefix>/db/<ts>.dump[.zst], <prefix>/docs/<ts>.tar.gz|.tar.zst)");
    }
    return out;
}

std::vector<retention::Backup> backups_from_lines(std::string_view text,
                                                  std::string_view default_half,
                                                  std::size_t* manifests_skipped) {
    return read_backup_list(std::string(text), default_half, manifests_skipped).to_backups();
}

}  // namespace dolibak::catalog
