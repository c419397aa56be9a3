// Reading a list of backups (store keys or bare time stamps) for the retention planner.
#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>

#include <algorithm>
#include <array>
#include <span>
#include <string>

namespace dolibak::catalog {

std::vector<retention::Backup> backups_from_lines(std::string_view text,
                                                  std::string_view default_half,
                                                  std::size_t* manifests_skipped) {
    std::vector<retention::Backup> out;
    out.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
    std::size_t line_no = 0;
    if (manifests_skipped) *manifests_skipped = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
        // Up to 3 fields are valid; a fourth is only counted, to be refused (no allocation).
        std::array<std::string_view, 4> field_buf;
        std::size_t n_fields = 0;
        std::size_t i = 0;
        while (i < line.size() && n_fields < field_buf.size()) {
            while (i < line.size() && is_space(line[i])) ++i;
            const auto start = i;
            while (i < line.size() && !is_space(line[i])) ++i;
            if (i > start) field_buf[n_fields++] = line.substr(start, i - start);
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
        if (const auto k = parse_store_key(fields[0])) {
            if (!is_backup_object(k->kind)) {
                if (manifests_skipped) ++*manifests_skipped;
                continue;
            }
            out.push_back({std::string(fields[0]), k->time, k->half, ok, verified});
            continue;
        }
        if (const auto t = try_parse_timestamp(fields[0])) {
            out.push_back({std::string(fields[0]), *t, std::string(default_half), ok, verified});
            continue;
        }
        if (fields[0].size() == 16) {
            try {
                parse_timestamp(fields[0]);
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

}  // namespace dolibak::catalog
