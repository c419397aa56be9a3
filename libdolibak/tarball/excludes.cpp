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
    // Without FNM_PATHNAME, '*' and '?' also match '/'; FNM_PERIOD is not set either.
    for (const auto& p : patterns_)
        if (::fnmatch(p.c_str(), candidate.c_str(), 0) == 0) return true;
    return false;
}

bool ExcludeMatcher::excluded(std::string_view relative_path, bool is_directory) const {
    if (patterns_.empty()) return false;
    auto try_path = [&](std::string_view path) {
        std::string candidate{path};
        if (matches_one(candidate) || matches_one("/" + candidate)) return true;
        for (std::size_t i = 0; i < candidate.size(); ++i)
            if (candidate[i] == '/' && i + 1 < candidate.size() &&
                matches_one(candidate.substr(i + 1)))
                return true;
        return false;
    };
    if (try_path(relative_path)) return true;
    if (is_directory) {
        std::string with_slash{relative_path};
        with_slash += '/';
        if (matches_one(with_slash) || matches_one("/" + with_slash)) return true;
        for (std::size_t i = 0; i + 1 < with_slash.size(); ++i)
            if (with_slash[i] == '/' && matches_one(with_slash.substr(i + 1))) return true;
    }
    return false;
}

}  // namespace dolibak::tarball
