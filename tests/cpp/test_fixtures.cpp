// The real-server fixtures seen from C++: PostgreSQL 15 demands passwords; the S3 server
// checks SigV4 signatures. Signatures here come from libcurl's own SigV4 implementation
// (CURLOPT_AWS_SIGV4), independent of dolibak's signer.
#include "support/testsupport.hpp"

#include <curl/curl.h>
#include <libpq-fe.h>

#include <doctest/doctest.h>

#include <memory>

using namespace dolibak;

namespace {
struct PgConnDeleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, PgConnDeleter>;

Conn connect(const std::string& role, const std::string& password) {
    const auto& info = test::pg();
    const auto& r = info.at(role);
    const char* keys[] = {"host", "port", "user", "dbname", "password", "passfile", nullptr};
    const std::string port = std::to_string(info.at("port").get<int>());
    const std::string host = info.at("host").get<std::string>();
    const std::string user = r.at("user").get<std::string>();
    const std::string db = r.at("dbname").get<std::string>();
    const char* values[] = {host.c_str(),     port.c_str(), user.c_str(), db.c_str(),
                            password.c_str(), "/dev/null",  nullptr};
    return Conn(PQconnectdbParams(keys, values, 0));
}

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};

size_t collect(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

// GET <endpoint>/<bucket>/<key> signed by libcurl with the given secret.
std::pair<long, std::string> signed_get(const std::string& key, const std::string& secret) {
    const auto& s3 = test::s3();
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    REQUIRE(curl);
    const std::string url =
        s3.at("endpoint").get<std::string>() + "/" + s3.at("bucket").get<std::string>() + "/" + key;
    const std::string sigv4 = "aws:amz:" + s3.at("region").get<std::string>() + ":s3";
    const std::string user = s3.at("access_key").get<std::string>() + ":" + secret;
    std::string body;
    // S3 wants x-amz-content-sha256 signed; an empty body's hash.
    curl_slist* headers = curl_slist_append(
        nullptr,
        "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_USERPWD, user.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
    const auto rc = curl_easy_perform(curl.get());
    curl_slist_free_all(headers);
    REQUIRE(rc == CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    return {status, body};
}
}  // namespace

TEST_CASE("the PostgreSQL fixture serves PostgreSQL 15 and requires a password") {
    const auto& info = test::pg();
    auto good = connect("prod", info.at("prod").at("password").get<std::string>());
    REQUIRE(PQstatus(good.get()) == CONNECTION_OK);
    CHECK(PQserverVersion(good.get()) / 10000 == 15);
    CHECK(std::string(PQparameterStatus(good.get(), "is_superuser")) == "off");

    auto wrong = connect("prod", "not-the-password");
    CHECK(PQstatus(wrong.get()) == CONNECTION_BAD);
    CHECK(std::string(PQerrorMessage(wrong.get())).find("password authentication failed") !=
          std::string::npos);

    auto none = connect("prod", "");
    CHECK(PQstatus(none.get()) == CONNECTION_BAD);

    auto sandbox = connect("sandbox", info.at("sandbox").at("password").get<std::string>());
    CHECK(PQstatus(sandbox.get()) == CONNECTION_OK);
}

TEST_CASE("the S3 fixture rejects a wrongly signed request with 403 SignatureDoesNotMatch") {
    const auto& s3 = test::s3();
    const auto secret = s3.at("secret_key").get<std::string>();
    auto [status, body] = signed_get("db/missing.dump", secret + "x");
    CHECK(status == 403);
    CHECK(body.find("SignatureDoesNotMatch") != std::string::npos);
    CHECK(body.find(secret) == std::string::npos);

    // The right secret passes the signature check and reaches the object lookup.
    auto [ok_status, ok_body] = signed_get("db/missing.dump", secret);
    CHECK(ok_status == 404);
    CHECK(ok_body.find("NoSuchKey") != std::string::npos);
}
