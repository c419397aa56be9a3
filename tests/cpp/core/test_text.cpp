// Did-you-mean (edit distance, closest match) and counted nouns.
#include <dolibak/core/text.hpp>

#include <doctest/doctest.h>

using namespace dolibak;

TEST_CASE("edit distance counts insertions, deletions, substitutions and swaps") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("store", "store") == 0);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("sotre", "store") == 1);    // neighbours swapped
    CHECK(edit_distance("backpu", "backup") == 1);  // neighbours swapped at the end
    CHECK(edit_distance("stor", "store") == 1);
    CHECK(edit_distance("stores", "store") == 1);
    CHECK(edit_distance("stare", "store") == 1);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(edit_distance("Store", "store") == 1);  // case counts
    CHECK(edit_distance("ab", "ba") == 1);
    CHECK(edit_distance("abc", "ca") == 3);  // optimal string alignment, not full Damerau
}

TEST_CASE("the closest candidate is offered only when it is close") {
    const std::vector<std::string> commands{"backup",  "check",  "list",  "prune",
                                            "restore", "status", "verify"};
    CHECK(closest_match("backpu", commands) == "backup");
    CHECK(closest_match("lsit", commands) == "list");
    CHECK(closest_match("verfy", commands) == "verify");
    CHECK(closest_match("status", commands) == "status");
    CHECK_FALSE(closest_match("xyz", commands).has_value());
    CHECK_FALSE(closest_match("frobnicate", commands).has_value());
    CHECK_FALSE(closest_match("", commands).has_value());  // not even 1 edit from a word
    CHECK_FALSE(closest_match("anything", {}).has_value());
    // Ties go to the first candidate.
    CHECK(closest_match("cat", {"bat", "hat"}) == "bat");
    CHECK(did_you_mean("--sotre", {"--store", "--s3-region"}) == "; did you mean '--store'?");
    CHECK(did_you_mean("--zzzzzzzz", {"--store"}).empty());
}

TEST_CASE("counts take the singular for one only") {
    CHECK(count_noun(0, "file") == "0 files");
    CHECK(count_noun(1, "file") == "1 file");
    CHECK(count_noun(2, "file") == "2 files");
    CHECK(count_noun(1, "directory", "directories") == "1 directory");
    CHECK(count_noun(370, "directory", "directories") == "370 directories");
    CHECK(count_noun(1, "entry", "entries") == "1 entry");
}
