#include <dolibak/tarball/excludes.hpp>

#include <fnmatch.h>

namespace dolibak::tarball {

std::vector<std::string> default_excludes() {
    return {"*/temp/*", "*.pdf_preview*.png", "dolibarr*.log"};
}

ExcludeMatcher::ExcludeMatcher(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
    std::erase_if(patterns_, [](const std::string& p) { return p.empty(); });
}

bool ExcludeMatcher::matches_one(const std::string& candidate) const {
    // `candidate` starts with '/': try it whole, then without the '/', then every tail after
    // a '/'. Tails of a NUL-terminated string are NUL-terminated: no copies.
    // Without FNM_PATHNAME, '*' and '?' also match '/'; FNM_PERIOD is not set either.
    for (const auto& p : patterns_) {
        if (::fnmatch(p.c_str(), candidate.c_str(), 0) == 0) return true;
        for (std::size_t i = 0; i + 1 < candidate.size(); ++i)
            if (candidate[i] == '/' && ::fnmatch(p.c_str(), candidate.c_str() + i + 1, 0) == 0)
                return true;
    }
    return false;
}

bool ExcludeMatcher::excluded(std::string_view relative_path, bool is_directory) const {
    if (patterns_.empty()) return false;
    std::string candidate;
    candidate.reserve(relative_path.size() + 2);
    candidate += '/';
    candidate += relative_path;
    if (matches_one(candidate)) return true;
    if (is_directory) {
        candidate += '/';
        if (matches_one(candidate)) return true;
    }
    return false;
}

}  // namespace dolibak::tarball
