// The stored fingerprint (.fp-<half>): per-table digests kept beside the combined value, and
// the older form without them still read.
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/core/error.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace dolibak;
using nlohmann::json;

namespace {

catalog::StoredFingerprint sample() {
    catalog::StoredFingerprint f;
    f.half = "db";
    f.value = std::string(64, 'a');
    f.mode = "xmin";
    f.object = "db/20261123T020000Z.dump";
    f.time = parse_timestamp("20261123T020000Z");
    f.sha256 = std::string(64, 'b');
    f.bytes = 4096;
    return f;
}

}  // namespace

TEST_CASE("per-table digests round-trip beside the combined value") {
    auto f = sample();
    f.tables = std::map<std::string, std::string>{{"public.llx_a", "11"}, {"public.llx_b", "22"}};
    f.schema_digest = std::string(64, 'c');
    const auto back = catalog::StoredFingerprint::from_json(f.to_json());
    REQUIRE(back.tables.has_value());
    CHECK(*back.tables == *f.tables);
    CHECK(back.schema_digest == f.schema_digest);
    CHECK(back.value == f.value);
    const auto j = json::parse(f.to_json());
    CHECK(j["version"] == 1);  // an addition: the format's version stays
    CHECK(j["tables"]["public.llx_b"] == "22");
}

TEST_CASE("a fingerprint without tables (the older form) reads, with no tables") {
    const auto text = sample().to_json();
    CHECK(json::parse(text).contains("tables") == false);
    const auto back = catalog::StoredFingerprint::from_json(text);
    CHECK_FALSE(back.tables.has_value());
    CHECK(back.schema_digest.empty());
    CHECK(back.value == std::string(64, 'a'));
    CHECK(back.object == "db/20261123T020000Z.dump");
}

TEST_CASE("malformed tables are refused, naming the field") {
    auto j = json::parse(sample().to_json());
    j["tables"] = json::array({"public.llx_a"});
    CHECK_THROWS_WITH_AS(catalog::StoredFingerprint::from_json(j.dump()),
                         doctest::Contains("\"tables\" must be an object"), FormatError);
    j["tables"] = {{"public.llx_a", 7}};
    CHECK_THROWS_WITH_AS(catalog::StoredFingerprint::from_json(j.dump()),
                         doctest::Contains("tables.public.llx_a must be a string"), FormatError);
}

TEST_CASE("the pre-check state round-trips as an object; anything else is left out") {
    auto f = sample();
    f.state = R"({"version":1,"snapshot":"5:9:7"})";
    const auto j = json::parse(f.to_json());
    CHECK(j["precheck"]["snapshot"] == "5:9:7");
    CHECK(json::parse(catalog::StoredFingerprint::from_json(f.to_json()).state) ==
          json::parse(f.state));
    // Written by an earlier dolibak: none. Not an object: ignored, the rest still read.
    CHECK(catalog::StoredFingerprint::from_json(sample().to_json()).state.empty());
    auto odd = j;
    odd["precheck"] = "5:9:7";
    const auto back = catalog::StoredFingerprint::from_json(odd.dump());
    CHECK(back.state.empty());
    CHECK(back.value == f.value);
}
