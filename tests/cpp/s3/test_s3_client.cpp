// The S3 client against the moto fixture (SigV4 checked, payload hashes checked, checksum
// headers refused, Content-MD5 required on DeleteObjects).
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/s3/client.hpp>

#include "s3/transport.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <thread>

using namespace dolibak;
using namespace dolibak::s3;

namespace {

std::string bucket() {
    return test::s3().at("bucket").get<std::string>();
}

ClientOptions options_for(const nlohmann::json& info) {
    ClientOptions o;
    o.endpoint = info.at("endpoint").get<std::string>();
    o.region = info.at("region").get<std::string>();
    o.addressing = AddressingStyle::path;
    o.part_size = 5 * 1024 * 1024;
    o.parallel_parts = 3;
    o.retry.base_delay = std::chrono::milliseconds(20);
    return o;
}

Credentials creds_for(const nlohmann::json& info) {
    Credentials c;
    c.access_key_id = info.at("access_key").get<std::string>();
    c.secret_access_key = Secret(info.at("secret_key").get<std::string>());
    return c;
}

Client& client() {
    static Client c(options_for(test::s3()), creds_for(test::s3()));
    return c;
}

std::string unique_prefix(const std::string& name) {
    static std::mt19937_64 rng(std::random_device{}());
    return "t/" + name + "-" + std::to_string(rng() % 1000000000) + "/";
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const auto v = rng();
        std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
    }
    return s;
}

std::vector<nlohmann::json> request_log(const nlohmann::json& info) {
    std::vector<nlohmann::json> out;
    std::ifstream f(info.at("request_log").get<std::string>());
    for (std::string line; std::getline(f, line);)
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

std::string get_all(Client& c, const std::string& key, GetOptions o = {}) {
    io::MemorySink sink;
    c.get_object(bucket(), key, sink, o);
    return sink.data();
}

}  // namespace

TEST_CASE("put, head, get and delete with awkward keys") {
    auto& c = client();
    const auto p = unique_prefix("basic");
    const std::vector<std::string> keys = {"db/20261123T010000Z.dump",
                                           "dump-2026-11-23T01:00:00Z.pgdump",
                                           "paren(1).txt",
                                           "a+b=c&d.txt",
                                           "\xc3\xbcmlaut.txt",
                                           "sp ace.txt",
                                           "tilde~x",
                                           "at@star*.txt"};
    for (const auto& k : keys) {
        CAPTURE(k);
        const std::string data = "content of " + k;
        const auto etag = c.put_object(bucket(), p + k, io::as_bytes(data));
        io::Md5 md5;
        md5.update(data);
        CHECK(etag == "\"" + md5.hex() + "\"");
        const auto info = c.head_object(bucket(), p + k);
        REQUIRE(info);
        CHECK(info->size == data.size());
        CHECK(info->etag == etag);
        CHECK(get_all(c, p + k) == data);
    }
    const auto listed = c.list_objects(bucket(), p);
    CHECK(listed.size() == keys.size());
    for (const auto& o : listed) CHECK(o.key.starts_with(p));
    for (const auto& k : keys) c.delete_object(bucket(), p + k);
    CHECK(c.list_objects(bucket(), p).empty());
    CHECK_FALSE(c.head_object(bucket(), p + keys[0]));
    c.delete_object(bucket(), p + "never-existed");  // not an error
}

TEST_CASE("a missing key is a 404 RemoteError; a wrong secret a 403 without the secret") {
    const auto p = unique_prefix("errors");
    try {
        get_all(client(), p + "missing");
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().http_status == 404);
        CHECK(e.details().code == "NoSuchKey");
        CHECK(std::string(e.what()).find("s3://") != std::string::npos);
    }
    auto creds = creds_for(test::s3());
    const std::string wrong = creds.secret_access_key.reveal() + "WRONG";
    creds.secret_access_key = Secret(wrong);
    std::vector<std::string> traced;
    auto o = options_for(test::s3());
    o.trace = [&](const std::string& l) { traced.push_back(l); };
    Client bad(o, creds);
    try {
        bad.put_object(bucket(), p + "x", io::as_bytes(std::string_view("x")));
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().http_status == 403);
        CHECK(e.details().code == "SignatureDoesNotMatch");
        CHECK(std::string(e.what()).find(wrong) == std::string::npos);
        CHECK_FALSE(e.details().retryable);
    }
    REQUIRE_FALSE(traced.empty());
    for (const auto& l : traced) CHECK(l.find(wrong) == std::string::npos);
}

TEST_CASE("ranges, offsets and the streaming source") {
    auto& c = client();
    const auto key = unique_prefix("range") + "obj";
    const auto data = random_bytes(300 * 1024, 7);
    c.put_object(bucket(), key, io::as_bytes(data));
    CHECK(get_all(c, key, {100, 50, ""}) == data.substr(100, 50));
    CHECK(get_all(c, key, {1000, std::nullopt, ""}) == data.substr(1000));
    CHECK(get_all(c, key, {0, std::uint64_t(data.size() + 10), ""}) == data);
    auto src = c.open_object(bucket(), key);
    CHECK(io::read_all(*src) == data);
    // An ETag that no longer matches: 412.
    CHECK_THROWS_AS(get_all(c, key, {0, std::nullopt, "\"0000\""}), RemoteError);
    // Dropping a source early cancels it cleanly.
    auto early = c.open_object(bucket(), key);
    std::byte b[10];
    CHECK(early->read(b) > 0);
    early.reset();
    auto missing = c.open_object(bucket(), key + "-missing");
    CHECK_THROWS_AS(io::read_all(*missing), RemoteError);
}

TEST_CASE("listing pages through continuation tokens") {
    auto& c = client();
    const auto p = unique_prefix("list");
    for (int i = 0; i < 7; ++i)
        c.put_object(bucket(), p + "k" + std::to_string(i) + (i % 2 ? "/sub" : ""),
                     io::as_bytes(std::string_view("v")));
    std::vector<std::string> keys;
    std::string token;
    int pages = 0;
    do {
        auto page = c.list_objects_page(bucket(), p, {}, token, 2);
        for (auto& o : page.objects) keys.push_back(o.key);
        token = page.next_continuation_token;
        ++pages;
    } while (!token.empty());
    CHECK(pages == 4);
    CHECK(keys.size() == 7);
    CHECK(std::is_sorted(keys.begin(), keys.end()));
    const auto page = c.list_objects_page(bucket(), p, "/");
    CHECK(page.objects.size() == 4);
    CHECK(page.common_prefixes.size() == 3);
    const auto all = c.list_objects(bucket(), p);
    CHECK(all.size() == 7);
    CHECK(all[0].size == 1);
    CHECK(all[0].last_modified.time_since_epoch().count() > 0);
}

TEST_CASE("streaming upload: small stream is one PutObject, large one a parallel multipart") {
    auto& c = client();
    const auto& info = test::s3();
    const auto p = unique_prefix("upload");
    {
        auto sink = c.upload(bucket(), p + "small");
        io::write(*sink, "hello ");
        io::write(*sink, "world");
        sink->finish();
        CHECK(get_all(c, p + "small") == "hello world");
        auto empty = c.upload(bucket(), p + "empty");
        empty->finish();
        CHECK(c.head_object(bucket(), p + "empty")->size == 0);
    }
    const auto data = random_bytes(13 * 1024 * 1024 + 12345, 11);
    {
        auto sink = c.upload(bucket(), p + "big.dump");
        for (std::size_t i = 0; i < data.size(); i += 100000)
            sink->write(io::as_bytes(std::string_view(data).substr(i, 100000)));
        sink->finish();
    }
    CHECK(get_all(c, p + "big.dump") == data);
    int parts = 0, creates = 0, completes = 0, singles = 0;
    for (const auto& e : request_log(info)) {
        const std::string path = e.at("path");
        const std::string q = e.at("query");
        if (path.find(p.substr(2)) == std::string::npos) continue;
        for (const auto& h : e.at("headers")) {
            const std::string name = h;
            CHECK_FALSE(name.starts_with("x-amz-checksum"));
            CHECK(name != "x-amz-sdk-checksum-algorithm");
            CHECK(name != "x-amz-trailer");
            CHECK(name != "expect");
            CHECK(name != "content-md5");  // auto, and this bucket never asked for it
        }
        if (path.ends_with("big.dump")) {
            if (q.find("partNumber=") != std::string::npos) ++parts;
            if (q == "uploads=" || q == "uploads") {
                ++creates;
                // CreateMultipartUpload goes with an explicit Content-Length: 0.
                bool length = false;
                for (const auto& h : e.at("headers")) length = length || h == "content-length";
                CHECK(length);
            }
            if (e.at("method") == "POST" && q.find("uploadId=") != std::string::npos) ++completes;
        } else if (e.at("method") == "PUT" && q.empty()) {
            ++singles;
        }
    }
    CHECK(parts == 3);
    CHECK(creates == 1);
    CHECK(completes == 1);
    CHECK(singles == 2);
    CHECK(c.list_multipart_uploads(bucket(), p).empty());
    CHECK_FALSE(c.stats().content_md5_required);
}

TEST_CASE("a streaming upload holds at most (parallel_parts + 1) parts in memory") {
    auto o = options_for(test::s3());
    o.parallel_parts = 1;
    Client c(o, creds_for(test::s3()));
    const auto key = unique_prefix("memory") + "stream.dump";
    const auto data = random_bytes(21 * 1024 * 1024 + 1, 13);
    auto sink = c.upload(bucket(), key);
    for (std::size_t i = 0; i < data.size(); i += 256 * 1024)
        sink->write(io::as_bytes(std::string_view(data).substr(i, 256 * 1024)));
    sink->finish();
    const auto peak = c.stats().peak_upload_buffer_bytes;
    CHECK(peak > o.part_size);       // it did buffer ahead of the upload in flight...
    CHECK(peak <= 2 * o.part_size);  // ...but never more than one part ahead
    CHECK(get_all(c, key) == data);
}

TEST_CASE("an aborted multipart upload leaves no object and no open upload") {
    auto& c = client();
    const auto p = unique_prefix("abort");
    const auto data = random_bytes(11 * 1024 * 1024, 3);
    {
        auto sink = c.upload(bucket(), p + "partial.dump");
        sink->write(io::as_bytes(data));
        CHECK(c.list_multipart_uploads(bucket(), p).size() == 1);
        // destroyed without finish(): aborted
    }
    CHECK_FALSE(c.head_object(bucket(), p + "partial.dump"));
    CHECK(c.list_multipart_uploads(bucket(), p).empty());

    // Stale uploads left by a crash are found and aborted.
    const auto id = c.create_multipart_upload(bucket(), p + "crashed.dump");
    c.upload_part(bucket(), p + "crashed.dump", id, 1, io::as_bytes(std::string_view("x")));
    const auto open = c.list_multipart_uploads(bucket(), p);
    REQUIRE(open.size() == 1);
    CHECK(open[0].upload_id == id);
    // moto reports a fixed Initiated time (2010); real S3 the true one.
    if (std::chrono::system_clock::now() - open[0].initiated < std::chrono::hours(24 * 365))
        CHECK(c.abort_stale_uploads(bucket(), p, std::chrono::hours(1)) == 0);
    CHECK(c.abort_stale_uploads(bucket(), p, std::chrono::seconds(0)) == 1);
    CHECK(c.list_multipart_uploads(bucket(), p).empty());
}

TEST_CASE("DeleteObjects goes in batches of 1000 with Content-MD5") {
    auto& c = client();
    const auto p = unique_prefix("many");
    std::vector<std::string> keys;
    for (int i = 0; i < 1003; ++i)
        keys.push_back(p + "k" + std::to_string(i) + (i == 5 ? "&<>\"'" : ""));
    std::vector<std::thread> threads;
    std::atomic<std::size_t> next{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (std::size_t i; (i = next++) < keys.size();)
                c.put_object(bucket(), keys[i], io::as_bytes(std::string_view("x")));
        });
    for (auto& t : threads) t.join();
    CHECK(c.list_objects(bucket(), p).size() == keys.size());
    const auto failures = c.delete_objects(bucket(), keys);
    CHECK(failures.empty());
    CHECK(c.list_objects(bucket(), p).empty());
    int batches = 0;
    for (const auto& e : request_log(test::s3()))
        if (e.at("method") == "POST" && std::string(e.at("query")).starts_with("delete")) {
            bool md5 = false;
            for (const auto& h : e.at("headers")) md5 = md5 || h == "content-md5";
            CHECK(md5);
            ++batches;
        }
    CHECK(batches >= 2);
}

TEST_CASE("a skewed server clock is corrected once from its Date header") {
    test::Fixture skewed(test::source_dir() / "tools/testenv/s3fixture.py",
                         {"--clock-offset", "3600", "--bucket", "skewed"});
    std::vector<std::string> traced;
    auto o = options_for(skewed.info());
    o.trace = [&](const std::string& l) { traced.push_back(l); };
    Client c(o, creds_for(skewed.info()));
    c.put_object("skewed", "k", io::as_bytes(std::string_view("v")));
    CHECK(std::abs(c.clock_offset().count() - 3600) < 60);
    io::MemorySink sink;
    c.get_object("skewed", "k", sink);
    CHECK(sink.data() == "v");
    int corrections = 0;
    for (const auto& l : traced) corrections += l.find("clock corrected") != std::string::npos;
    CHECK(corrections == 1);
}

TEST_CASE("a bucket with a default Object Lock retention gets Content-MD5 once it asks") {
    // The strict fixture refuses PutObject and UploadPart without an integrity header into
    // such a bucket, as AWS does, and checks a Content-MD5 that is sent.
    // One server for the subcases (doctest enters the test case once per subcase); each
    // subcase reads the log lines after those of the previous ones.
    static test::Fixture locked(test::source_dir() / "tools/testenv/s3fixture.py",
                                {"--object-lock-days", "1", "--bucket", "locked"});
    static std::size_t seen = 0;
    auto o = options_for(locked.info());
    REQUIRE(o.content_md5 == ContentMd5::automatic);  // the default
    const std::string small = "one part";
    const std::string big = random_bytes(11 * 1024 * 1024, 10);  // three parts of 5 MiB
    struct Put {
        long status;
        bool md5;
        bool part;
    };
    auto new_puts = [&] {
        std::vector<Put> out;
        const auto log = request_log(locked.info());
        for (std::size_t i = seen; i < log.size(); ++i) {
            const auto& e = log[i];
            if (e.at("method") != "PUT") continue;
            bool md5 = false;
            for (const auto& h : e.at("headers")) md5 = md5 || h == "content-md5";
            out.push_back({e.at("status").get<long>(), md5,
                           std::string(e.at("query")).find("partNumber=") != std::string::npos});
        }
        seen = log.size();
        return out;
    };
    auto round_trip = [&](Client& c, const std::string& name) {
        c.put_object("locked", name + "-small", io::as_bytes(std::string_view(small)));
        auto up = c.upload("locked", name + "-big");
        up->write(io::as_bytes(std::string_view(big)));
        up->finish();
        io::MemorySink sink;
        c.get_object("locked", name + "-big", sink);
        CHECK(sink.data() == big);
    };
    SUBCASE("auto (the default): the first upload is refused, sent again with it, then all") {
        std::vector<std::string> traced;
        o.trace = [&](const std::string& l) { traced.push_back(l); };
        Client c(o, creds_for(locked.info()));
        round_trip(c, "auto");
        CHECK(c.stats().content_md5_required);
        const auto puts = new_puts();
        REQUIRE(puts.size() == 5);  // PutObject refused, PutObject again, 3 parts
        CHECK((puts[0].status == 400 && !puts[0].md5 && !puts[0].part));
        CHECK((puts[1].status == 200 && puts[1].md5 && !puts[1].part));
        for (std::size_t i = 2; i < puts.size(); ++i)
            CHECK((puts[i].status == 200 && puts[i].md5 && puts[i].part));
        int asked = 0;
        for (const auto& l : traced) asked += l.find("asks for Content-MD5") != std::string::npos;
        CHECK(asked == 1);
    }
    SUBCASE("auto: a part refused for the lack of it is sent again with it") {
        Client c(o, creds_for(locked.info()));
        const auto id = c.create_multipart_upload("locked", "part-first");
        const auto part = std::string_view(big).substr(0, 1 << 20);  // the last part: any size
        CHECK(c.upload_part("locked", "part-first", id, 1, io::as_bytes(part)).size() > 2);
        c.abort_multipart_upload("locked", "part-first", id);
        CHECK(c.stats().content_md5_required);
        const auto puts = new_puts();
        REQUIRE(puts.size() == 2);
        CHECK((puts[0].status == 400 && !puts[0].md5 && puts[0].part));
        CHECK((puts[1].status == 200 && puts[1].md5 && puts[1].part));
    }
    SUBCASE("always: every upload carries it, none is refused") {
        o.content_md5 = ContentMd5::always;
        Client c(o, creds_for(locked.info()));
        round_trip(c, "always");
        const auto puts = new_puts();
        REQUIRE(puts.size() == 4);  // PutObject + 3 parts
        for (const auto& p : puts) CHECK((p.status == 200 && p.md5));
    }
    SUBCASE("never: the bucket refuses both kinds of upload") {
        o.content_md5 = ContentMd5::never;
        Client c(o, creds_for(locked.info()));
        CHECK_THROWS_AS(c.put_object("locked", "small", io::as_bytes(std::string_view(small))),
                        RemoteError);
        const auto id = c.create_multipart_upload("locked", "big");
        CHECK_THROWS_AS(c.upload_part("locked", "big", id, 1, io::as_bytes(std::string_view(big))),
                        RemoteError);
        c.abort_multipart_upload("locked", "big", id);
        CHECK_FALSE(c.stats().content_md5_required);
        for (const auto& p : new_puts()) CHECK((p.status == 400 && !p.md5));
    }
    CHECK(parse_content_md5("never") == ContentMd5::never);
    CHECK(parse_content_md5("auto") == ContentMd5::automatic);
    CHECK_THROWS_AS(parse_content_md5("sometimes"), ConfigError);
}

TEST_CASE("which refusals ask for Content-MD5") {
    // AWS (Object Lock), MinIO, moto and a message-only variant ask; a wrong digest, another
    // 400 or another status do not.
    CHECK(asks_for_content_md5(
        400, {"InvalidRequest",
              "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
              "with Object Lock parameters",
              ""}));
    CHECK(asks_for_content_md5(400, {"MissingContentMD5", "", ""}));
    CHECK(asks_for_content_md5(400, {"MissingUploadObjectWithObjectLockHeaders", "", ""}));
    CHECK(asks_for_content_md5(400, {"InvalidArgument", "missing content-md5 header", ""}));
    CHECK_FALSE(asks_for_content_md5(400, {"BadDigest",
                                           "The Content-MD5 you specified did not "
                                           "match what we received.",
                                           ""}));
    CHECK_FALSE(asks_for_content_md5(
        400, {"InvalidDigest", "The Content-MD5 you specified was not valid.", ""}));
    CHECK_FALSE(asks_for_content_md5(400, {"InvalidRequest", "Bucket is missing config", ""}));
    CHECK_FALSE(asks_for_content_md5(403, {"AccessDenied", "Content-MD5 policy", ""}));
}

TEST_CASE("endpoints and addressing styles") {
    Credentials cr;
    cr.access_key_id = "AK";
    cr.secret_access_key = Secret("SK");
    auto with_endpoint = [](std::string e) {
        ClientOptions o;
        o.endpoint = std::move(e);
        return o;
    };
    CHECK_THROWS_AS(Client(with_endpoint("ftp://x"), cr), ConfigError);
    CHECK_THROWS_AS(Client(with_endpoint("https://x/path"), cr), ConfigError);
    ClientOptions r2;
    r2.region = "auto";
    CHECK_THROWS_AS(Client(r2, cr), ConfigError);
    r2.endpoint = "https://acc.r2.cloudflarestorage.com";
    CHECK_NOTHROW(Client(r2, cr));
    CHECK_THROWS_AS(Client(ClientOptions{}, Credentials{}), ConfigError);
    CHECK(parse_addressing_style("virtual") == AddressingStyle::virtual_hosted);
    CHECK_THROWS_AS(parse_addressing_style("dns"), ConfigError);
    ClientOptions ca;
    ca.ca_bundle = "/nonexistent/ca.pem";
    CHECK_THROWS_AS(Client(ca, cr), ConfigError);
}

TEST_CASE("round trips at the part-size edges and of a 100 MiB multipart object") {
    auto o = options_for(test::s3());
    Client c(o, creds_for(test::s3()));
    const auto p = unique_prefix("edges");
    const std::size_t part = o.part_size;
    for (const std::size_t size : {std::size_t(0), std::size_t(1), part - 1, part, part + 1}) {
        CAPTURE(size);
        const auto data = random_bytes(size, static_cast<unsigned>(size));
        const auto key = p + "size-" + std::to_string(size);
        auto sink = c.upload(bucket(), key);
        sink->write(io::as_bytes(data));
        sink->finish();
        CHECK(c.head_object(bucket(), key)->size == size);
        CHECK(get_all(c, key) == data);
    }
    // Keys that need care when signing.
    for (const std::string k : {"100%.txt", "a//b", "sp ace/+plus=eq~tilde", "\xe2\x82\xac/x"}) {
        CAPTURE(k);
        c.put_object(bucket(), p + k, io::as_bytes(k));
        CHECK(get_all(c, p + k) == k);
    }
    o.part_size = 10 * 1024 * 1024;
    Client big_client(o, creds_for(test::s3()));
    const auto big = random_bytes(100 * 1024 * 1024 + 3, 100);
    {
        auto sink = big_client.upload(bucket(), p + "big");
        for (std::size_t i = 0; i < big.size(); i += 4 << 20)
            sink->write(io::as_bytes(std::string_view(big).substr(i, 4 << 20)));
        sink->finish();
    }
    const auto info = big_client.head_object(bucket(), p + "big");
    REQUIRE(info);
    CHECK(info->etag.ends_with("-11\""));
    io::Sha256 want, got;
    want.update(big);
    io::NullSink null;
    io::ObservedSink counted(null, {&got});
    CHECK(big_client.get_object(bucket(), p + "big", counted) == big.size());
    CHECK(got.hex() == want.hex());
    c.delete_object(bucket(), p + "big");
}

TEST_CASE("part sizes: a size hint keeps one part size under 10,000 parts") {
    constexpr std::uint64_t MiB = 1024 * 1024, GiB = 1024 * MiB;
    const ClientOptions defaults;  // 16 MiB parts
    for (const std::uint64_t hint : {500 * GiB, 1 * GiB, 150 * GiB, 5 * 1024 * GiB}) {
        CAPTURE(hint);
        const auto sizes = part_sizes(defaults, hint);
        CHECK(sizes.base >= defaults.part_size);
        CHECK(sizes.base <= 5 * GiB);
        // The parts that carry the hinted size: all of one size, at most 9,000 of them.
        std::uint64_t total = 0;
        int parts = 0;
        while (total < hint) total += sizes.size(++parts);
        CHECK(parts <= 9000);
        CHECK(sizes.size(parts) == sizes.base);
        // A stream somewhat larger than its hint still fits in 10,000 parts.
        while (total < hint + hint / 10) total += sizes.size(++parts);
        CHECK(parts <= 10000);
    }
    const auto big = part_sizes(defaults, 500 * GiB);
    CHECK(big.base == (500 * GiB + 8999) / 9000);  // memory: (parallel + 1) x ~57 MiB
    CHECK(big.size(9000) == big.base);
    CHECK(big.size(9001) == 2 * big.base);  // grows only past the hinted size
    // A small hint changes nothing.
    const auto small = part_sizes(defaults, 100 * MiB);
    CHECK(small.base == 16 * MiB);
    CHECK(small.steady_parts == 1000);
}

TEST_CASE("part sizes: an upload of unknown size doubles its parts every 1,000 parts") {
    constexpr std::uint64_t MiB = 1024 * 1024, GiB = 1024 * MiB;
    const auto sizes = part_sizes(ClientOptions{}, std::nullopt);
    CHECK(sizes.size(1) == 16 * MiB);
    CHECK(sizes.size(1000) == 16 * MiB);
    CHECK(sizes.size(1001) == 32 * MiB);
    CHECK(sizes.size(2000) == 32 * MiB);
    CHECK(sizes.size(2001) == 64 * MiB);
    CHECK(sizes.size(9000) == 4 * GiB);
    CHECK(sizes.size(9001) == 5 * GiB);  // capped at S3's maximum part size
    CHECK(sizes.size(10000) == 5 * GiB);
    std::uint64_t total = 0;
    for (int n = 1; n <= 10000; ++n) total += sizes.size(n);
    CHECK(total >= 5 * 1024 * GiB);  // S3's largest object fits
    // A part size below S3's minimum is raised to it.
    ClientOptions tiny;
    tiny.part_size = 1024;
    CHECK(part_sizes(tiny, std::nullopt).size(1) == tiny.min_part_size);
}

TEST_CASE("a streaming upload with a size hint uses the larger part size it needs") {
    auto o = options_for(test::s3());  // 5 MiB parts
    Client c(o, creds_for(test::s3()));
    const std::size_t part = 6 * 1024 * 1024;
    PutOptions po;
    po.size_hint = std::uint64_t(part) * 9000;  // needs 6 MiB parts
    const auto key = unique_prefix("hinted") + "obj";
    const auto data = random_bytes(part + 1024 * 1024, 17);
    {
        auto sink = c.upload(bucket(), key, po);
        for (std::size_t i = 0; i < data.size(); i += 512 * 1024)
            sink->write(io::as_bytes(std::string_view(data).substr(i, 512 * 1024)));
        sink->finish();
    }
    // The multipart ETag is the MD5 of the parts' MD5s: it tells where the parts were cut.
    io::Md5 first, second, whole;
    first.update(std::string_view(data).substr(0, part));
    second.update(std::string_view(data).substr(part));
    whole.update(first.bytes());
    whole.update(second.bytes());
    const auto info = c.head_object(bucket(), key);
    REQUIRE(info);
    CHECK(info->etag == "\"" + whole.hex() + "-2\"");
    CHECK(get_all(c, key) == data);
}
