// libFuzzer target: whatever an S3 service (or anything answering in its place) sends back,
// the client's parsers of its XML answers accept it or refuse it with a dolibak::Error; they
// never crash, hang or throw anything else. Every parser reads the same bytes, STS's
// (AssumeRole, AssumeRoleWithWebIdentity and their errors) included.
#include "fuzz_support.hpp"
#include "s3/answers.hpp"
#include "s3/transport.hpp"

#include <dolibak/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace s3 = dolibak::s3;
    const std::string body(reinterpret_cast<const char*>(data), size);
    (void)s3::parse_error_body(body);
    dolibak::fuzz::refused_or_accepted([&] {
        const auto page = s3::parse_list_objects(body);
        if (!page.next_continuation_token.empty() && page.next_continuation_token.size() > size)
            __builtin_trap();
    });
    dolibak::fuzz::refused_or_accepted([&] { (void)s3::parse_delete_objects(body); });
    dolibak::fuzz::refused_or_accepted([&] {
        if (s3::parse_create_multipart_upload(body).empty()) __builtin_trap();
    });
    dolibak::fuzz::refused_or_accepted([&] {
        const auto etag = s3::parse_complete_multipart_upload(body);
        if (!etag.empty() && etag.front() != '"') __builtin_trap();
    });
    dolibak::fuzz::refused_or_accepted([&] { (void)s3::parse_list_multipart_uploads(body); });
    // STS (credential chain): credentials are complete or refused.
    (void)s3::parse_sts_error(body);
    for (const char* action : {"AssumeRole", "AssumeRoleWithWebIdentity"})
        dolibak::fuzz::refused_or_accepted([&] {
            const auto c = s3::parse_sts_credentials(body, action);
            if (c.empty() || c.session_token.empty() || !c.expiration) __builtin_trap();
        });
    return 0;
}
