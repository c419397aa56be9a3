// Did-you-mean and counted nouns (include/dolibak/core/text.hpp).
#include <dolibak/core/text.hpp>

#include <algorithm>

namespace dolibak {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Three rows of the dynamic programme: the one before the previous is needed for swaps.
    const std::size_t m = b.size();
    std::vector<std::size_t> before(m + 1), previous(m + 1), current(m + 1);
    for (std::size_t j = 0; j <= m; ++j) previous[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                current[j] = std::min(current[j], before[j - 2] + 1);
        }
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return previous[m];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
    const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
    std::optional<std::string> best;
    std::size_t best_distance = limit + 1;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    const auto m = closest_match(word, candidates);
    return m ? "; did you mean '" + *m + "'?" : std::string();
}

std::string count_noun(std::uint64_t n, std::string_view singular, std::string_view plural) {
    std::string r = std::to_string(n) + " ";
    if (n == 1) return r.append(singular);
    if (plural.empty()) return r.append(singular).append("s");
    return r.append(plural);
}

}  // namespace dolibak
