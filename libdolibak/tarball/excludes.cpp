#include <dolibak/tarball/excludes.hpp>

#include <fnmatch.h>

namespace dolibak::tarball {

std::vector<std::string> default_excludes() {
    return {"*/temp/*", "*.pdf_preview*.png", "/dolibarr.log", "/dolibarr_*.log"};
}

ExcludeMatcher::ExcludeMatcher(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
    std::erase_if(patterns_, [](const std::string& p) { return p.empty(); });
}

bool ExcludeMatcher::matches_one(const std::string& p, const std::string& candidate) const {
    // `candidate` starts with '/': try it whole, then without the '/', then every tail after
    // a '/'. Tails of a NUL-terminated string are NUL-terminated: no copies.
    // Without FNM_PATHNAME, '*' and '?' also match '/'; FNM_PERIOD is not set either.
    if (::fnmatch(p.c_str(), candidate.c_str(), 0) == 0) return true;
    for (std::size_t i = 0; i + 1 < candidate.size(); ++i)
        if (candidate[i] == '/' && ::fnmatch(p.c_str(), candidate.c_str() + i + 1, 0) == 0)
            return true;
    return false;
}

int ExcludeMatcher::match(std::string_view relative_path, bool is_directory) const {
    if (patterns_.empty()) return -1;
    std::string candidate;
    candidate.reserve(relative_path.size() + 2);
    candidate += '/';
    candidate += relative_path;
    std::string as_dir;
    if (is_directory) as_dir = candidate + '/';
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
        if (matches_one(patterns_[i], candidate)) return static_cast<int>(i);
        if (is_directory && matches_one(patterns_[i], as_dir)) return static_cast<int>(i);
    }
    return -1;
}

}  // namespace dolibak::tarball
