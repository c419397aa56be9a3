#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/toc_filter.hpp>

#include <fmt/core.h>

#include <fnmatch.h>

#include <set>
#include <sstream>

namespace dolibak::pgdump {

namespace {
bool glob(const std::string& pattern, const std::string& value) {
    return pattern.empty() || ::fnmatch(pattern.c_str(), value.c_str(), FNM_NOESCAPE) == 0;
}
}  // namespace

bool TocRule::matches(const TocEntry& e) const {
    return glob(desc, e.desc) && glob(schema, e.schema) && glob(tag, e.tag) && glob(owner, e.owner);
}

std::vector<int> TocFilter::kept(const ArchiveSummary& s) const {
    std::set<int> dropped;
    for (const auto& e : s.entries) {
        bool keep = !default_selection || selected_by_default(e);
        if (keep && !include.empty()) {
            keep = false;
            for (const auto& r : include) keep = keep || r.matches(e);
        }
        for (const auto& r : exclude)
            if (r.matches(e)) keep = false;
        if (!keep) dropped.insert(e.dump_id);
    }
    if (cascade) {
        // Entries whose object is dropped go with it (its COMMENT, ACL, ...). Only rule-dropped
        // entries cascade, not those a default restore leaves out (DATABASE, ENCODING...).
        std::set<int> roots;
        for (const auto& e : s.entries)
            if (dropped.count(e.dump_id) && (!default_selection || selected_by_default(e)))
                roots.insert(e.dump_id);
        bool changed = true;
        while (changed) {
            changed = false;
            for (const auto& e : s.entries) {
                if (roots.count(e.dump_id)) continue;
                for (int d : e.dependencies)
                    if (roots.count(d)) {
                        roots.insert(e.dump_id);
                        dropped.insert(e.dump_id);
                        changed = true;
                        break;
                    }
            }
        }
    }
    std::vector<int> out;
    for (const auto& e : s.entries)
        if (!dropped.count(e.dump_id)) out.push_back(e.dump_id);
    return out;
}

std::string TocFilter::list(const ArchiveSummary& s) const {
    const auto ids = kept(s);
    const std::set<int> keep(ids.begin(), ids.end());
    std::string out =
        fmt::format(";\n; dolibak TOC filter of an archive of {} ({} entries, {} kept)\n;\n",
                    s.header.dbname, s.entries.size(), ids.size());
    for (const auto& e : s.entries) {
        if (!keep.count(e.dump_id)) out += ";";
        out += listing_line(e) + "\n";
    }
    return out;
}

TocRule parse_rule(const std::string& text) {
    std::vector<std::string> f;
    std::string cur;
    for (char c : text) {
        if (c == ':') {
            f.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    f.push_back(cur);
    if (f.size() > 4 || text.empty())
        throw ConfigError("bad TOC rule \"" + text + "\": expected desc[:schema[:tag[:owner]]]");
    f.resize(4);
    return TocRule{f[0], f[1], f[2], f[3]};
}

std::vector<int> list_ids(const std::string& list) {
    std::vector<int> ids;
    std::istringstream in(list);
    std::string line;
    while (std::getline(in, line)) {
        std::size_t i = 0;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i >= line.size() || line[i] == ';') continue;
        try {
            ids.push_back(std::stoi(line.substr(i)));
        } catch (...) {
        }
    }
    return ids;
}

}  // namespace dolibak::pgdump
