// JSON string literals written without a document (core/json_text): the same text as
// nlohmann::json's dump() for every kind of character, and invalid UTF-8 refused.
#include <dolibak/core/error.hpp>
#include <dolibak/core/json_text.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace dolibak;

namespace {

std::string literal(std::string_view s) {
    std::string out = "x";  // appended to, not replaced
    append_json_string(out, s);
    return out.substr(1);
}

}  // namespace

TEST_CASE("json string literals are what nlohmann dumps") {
    std::string every_ascii;
    for (int c = 0; c < 0x80; ++c) every_ascii += static_cast<char>(c);
    const std::string cases[] = {
        "",
        "plain key p/db/20261123T020000Z.dump",
        "quote \" backslash \\ slash /",
        "\b\f\n\r\t and \x01\x1f\x7f",
        every_ascii,
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x81 \xef\xbf\xbf \xf4\x8f\xbf\xbf",
        std::string("nul \0 inside", 12),
    };
    for (const auto& s : cases) {
        CAPTURE(s);
        CHECK(literal(s) == nlohmann::json(s).dump());
    }
}

TEST_CASE("json string literals refuse what is not UTF-8, as nlohmann does") {
    const std::string bad[] = {
        "\x80",              // a continuation byte alone
        "ab\xc3",            // cut after the lead byte
        "\xc0\xaf",          // overlong '/'
        "\xe0\x80\xaf",      // overlong, 3 bytes
        "\xed\xa0\x80",      // a surrogate
        "\xf4\x90\x80\x80",  // above U+10FFFF
        "\xf5\x80\x80\x80",  // no such lead byte
        "\xe2\x28\xa1",      // second byte not a continuation
    };
    for (const auto& s : bad) {
        CAPTURE(s);
        CHECK_THROWS_AS((void)nlohmann::json(s).dump(), nlohmann::json::type_error);
        CHECK_THROWS_WITH_AS((void)literal(s), doctest::Contains("invalid UTF-8 byte at offset"),
                             Error);
    }
    CHECK_THROWS_WITH_AS((void)literal("ok\xff"), doctest::Contains("offset 2"), Error);
}
