// The S3 client through a fault-injecting proxy (tools/testenv/faultproxy.py) in front of
// the moto fixture: 503 SlowDown, 500, connections cut mid-request and mid-response, stalls,
// CompleteMultipartUpload answering 200 with an <Error> or without ETag, DeleteObjects
// answering <Error>s for some keys.
// Transfers must complete byte-identical; a multipart upload that cannot complete must
// leave no object and no open upload.
// Errors carry the request id the server sent; no message or trace line holds the session
// token or the secret key.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/s3/client.hpp>
#include <dolibak/store/store.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

using namespace dolibak;
using dolibak::test::random_bytes;
using namespace dolibak::s3;

namespace {

test::Fixture& proxy() {
    static test::Fixture p(
        test::source_dir() / "tools/testenv/faultproxy.py",
        {"--upstream", "127.0.0.1:" + std::to_string(test::s3().at("port").get<int>())});
    return p;
}

void set_rules(const nlohmann::json& rules) {
    const std::string path = proxy().info().at("rules_file");
    const std::string tmp = path + ".tmp";
    test::write_file(tmp, rules.dump());
    std::filesystem::rename(tmp, path);
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);)
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

int faults(const std::string& action, const std::string& path_part) {
    int n = 0;
    for (const auto& e : read_jsonl(proxy().info().at("fault_log")))
        if (e.at("action") == action &&
            std::string(e.at("path")).find(path_part) != std::string::npos)
            ++n;
    return n;
}

Credentials creds() {
    Credentials c;
    c.access_key_id = test::s3().at("access_key").get<std::string>();
    c.secret_access_key = Secret(test::s3().at("secret_key").get<std::string>());
    return c;
}

ClientOptions via_proxy() {
    ClientOptions o;
    o.endpoint = proxy().info().at("endpoint").get<std::string>();
    o.region = test::s3().at("region").get<std::string>();
    o.addressing = AddressingStyle::path;
    o.part_size = 5 * 1024 * 1024;
    o.parallel_parts = 2;
    o.retry.base_delay = std::chrono::milliseconds(10);
    o.retry.max_delay = std::chrono::milliseconds(200);
    return o;
}

ClientOptions direct() {
    auto o = via_proxy();
    o.endpoint = test::s3().at("endpoint").get<std::string>();
    return o;
}

std::string bucket() {
    return test::s3().at("bucket").get<std::string>();
}

std::string unique(const std::string& name) {
    static std::mt19937_64 rng(std::random_device{}());
    return "faults-" + std::to_string(rng() % 1000000000) + "/" + name;
}

}  // namespace

TEST_CASE("uploads and downloads survive 503s, 500s, cut connections and stalls") {
    const auto key = unique("big.dump");
    const auto data = random_bytes(12 * 1024 * 1024 + 4321, 42);
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", key},
         {"query_contains", "uploads"},
         {"action", "503"},
         {"times", 1}},
        {{"method", "PUT"},
         {"path_contains", key},
         {"query_contains", "partNumber=1&"},
         {"action", "503"},
         {"times", 2}},
        {{"method", "PUT"},
         {"path_contains", key},
         {"query_contains", "partNumber=2&"},
         {"action", "cut_request"},
         {"times", 1}},
        {{"method", "PUT"},
         {"path_contains", key},
         {"query_contains", "partNumber=3&"},
         {"action", "cut_response"},
         {"times", 1}},
        {{"method", "POST"},
         {"path_contains", key},
         {"query_contains", "uploadId="},
         {"action", "500"},
         {"times", 1}},
        {{"method", "GET"}, {"path_contains", key}, {"action", "cut_response"}, {"times", 2}},
        {{"method", "GET"},
         {"path_contains", key},
         {"action", "stall_response"},
         {"delay", 4},
         {"times", 1}},
        {{"method", "HEAD"}, {"path_contains", key}, {"action", "429"}, {"times", 1}},
    }));
    auto o = via_proxy();
    o.low_speed_bytes = 1;
    o.low_speed_time = std::chrono::seconds(1);  // a stall is cut after a second
    std::vector<std::string> retries;
    std::mutex m;
    o.trace = [&](const std::string& l) {
        std::lock_guard lock(m);
        if (l.starts_with("retrying")) retries.push_back(l);
    };
    Client c(o, creds());
    {
        auto sink = c.upload(bucket(), key);
        for (std::size_t i = 0; i < data.size(); i += 1 << 20)
            sink->write(io::as_bytes(std::string_view(data).substr(i, 1 << 20)));
        sink->finish();
    }
    const auto info = c.head_object(bucket(), key);
    REQUIRE(info);
    CHECK(info->size == data.size());
    io::MemorySink got;
    CHECK(c.get_object(bucket(), key, got) == data.size());
    CHECK(got.data() == data);
    CHECK(faults("503", key) == 3);
    CHECK(faults("cut_request", key) == 1);
    CHECK(faults("cut_response", key) == 3);
    CHECK(faults("500", key) == 1);
    CHECK(faults("stall_response", key) == 1);
    CHECK(faults("429", key) == 1);
    CHECK(c.stats().retries == retries.size());
    std::string all_retries;
    for (const auto& r : retries) all_retries += r + "\n";
    CAPTURE(all_retries);
    CHECK(retries.size() >= 10);
    // The resumed GETs asked for the rest only.
    int ranged = 0;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (e.at("method") == "GET" && std::string(e.at("path")).find(key) != std::string::npos) {
            for (const auto& h : e.at("headers")) ranged += h == "range";
        }
    CHECK(ranged >= 3);
    set_rules(nlohmann::json::array());
}

TEST_CASE("a multipart upload that keeps failing leaves no object and no open upload") {
    const auto key = unique("doomed.dump");
    set_rules(nlohmann::json::array({
        {{"method", "PUT"},
         {"path_contains", key},
         {"query_contains", "partNumber=2&"},
         {"action", "500"},
         {"times", -1}},
    }));
    auto o = via_proxy();
    o.retry.max_attempts = 3;
    Client c(o, creds());
    const auto data = random_bytes(11 * 1024 * 1024, 9);
    auto sink = c.upload(bucket(), key);
    CHECK_THROWS_AS(
        {
            sink->write(io::as_bytes(data));
            sink->finish();
        },
        RemoteError);
    sink.reset();
    Client d(direct(), creds());
    CHECK_FALSE(d.head_object(bucket(), key));
    CHECK(d.list_multipart_uploads(bucket(), key).empty());
    int aborts = 0;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (e.at("method") == "DELETE" && std::string(e.at("path")).ends_with(key) &&
            std::string(e.at("query")).find("uploadId=") != std::string::npos)
            aborts += e.at("status") == 204;
    CHECK(aborts == 1);
    CHECK(faults("500", key) == 3);
    set_rules(nlohmann::json::array());
}

TEST_CASE("a failing single PUT publishes nothing; the store reports the error") {
    const auto key = unique("small.json");
    set_rules(nlohmann::json::array({
        {{"method", "PUT"}, {"path_contains", key}, {"action", "cut_request"}, {"times", -1}},
    }));
    store::StoreOptions so;
    so.use_environment = false;
    so.s3 = via_proxy();
    so.s3.retry.max_attempts = 2;
    so.credentials = creds();
    auto s = store::open("s3://" + bucket(), so);
    CHECK_THROWS_AS(s->put_bytes(key, "{\"x\":1}"), RemoteError);
    CHECK_FALSE(s->head(key));
    // With one cut only, the retry succeeds.
    set_rules(nlohmann::json::array({
        {{"method", "PUT"}, {"path_contains", key}, {"action", "cut_request"}, {"times", 1}},
        {{"method", "GET"},
         {"path_contains", key},
         {"action", "delay"},
         {"delay", 0.5},
         {"times", 1}},
    }));
    s->put_bytes(key, "{\"x\":1}");
    CHECK(s->get_bytes(key) == "{\"x\":1}");
    set_rules(nlohmann::json::array());
}

TEST_CASE("a resumed download from a server that ignores Range fails instead of corrupting") {
    const auto key = unique("norange.bin");
    const auto data = random_bytes(3 * 1024 * 1024, 5);
    Client c(via_proxy(), creds());
    c.put_object(bucket(), key, io::as_bytes(data));
    set_rules(nlohmann::json::array({
        {{"method", "GET"}, {"path_contains", key}, {"action", "cut_response"}, {"times", 1}},
        {{"method", "GET"}, {"path_contains", key}, {"action", "range_as_200"}, {"times", -1}},
    }));
    io::MemorySink got;
    try {
        c.get_object(bucket(), key, got);
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "RangeIgnored");
        CHECK_FALSE(e.details().retryable);
    }
    CHECK(got.data().size() < data.size());
    CHECK(data.starts_with(got.data()));  // what was written is a true prefix
    set_rules(nlohmann::json::array());
}

TEST_CASE("TLS is verified; a CA bundle makes a private CA trusted") {
    test::Fixture tls(
        test::source_dir() / "tools/testenv/faultproxy.py",
        {"--upstream", "127.0.0.1:" + std::to_string(test::s3().at("port").get<int>()), "--tls"});
    auto o = via_proxy();
    o.endpoint = tls.info().at("endpoint").get<std::string>();
    REQUIRE(o.endpoint.starts_with("https://"));
    {
        Client c(o, creds());  // the system's CAs do not know this certificate
        try {
            c.head_object(bucket(), "anything");
            FAIL("no error");
        } catch (const RemoteError& e) {
            CHECK_FALSE(e.details().retryable);
            CHECK(std::string(e.what()).find("certificate") != std::string::npos);
        }
        CHECK(c.stats().retries == 0);
    }
    o.ca_bundle = tls.info().at("ca_file").get<std::string>();
    Client c(o, creds());
    const auto key = unique("tls.txt");
    c.put_object(bucket(), key, io::as_bytes(std::string_view("over TLS")));
    io::MemorySink got;
    c.get_object(bucket(), key, got);
    CHECK(got.data() == "over TLS");
}

namespace {

void trace_retries(ClientOptions& o, std::mutex& m, std::vector<std::string>& lines) {
    o.trace = [&m, &lines](const std::string& l) {
        std::lock_guard lock(m);
        if (l.starts_with("retrying")) lines.push_back(l);
    };
}

void upload_in_chunks(Client& c, const std::string& key, const std::string& data) {
    auto sink = c.upload(bucket(), key);
    for (std::size_t i = 0; i < data.size(); i += 1 << 20)
        sink->write(io::as_bytes(std::string_view(data).substr(i, 1 << 20)));
    sink->finish();
}

// The requests that reached moto for `key` (path ending with it), by method and query part.
int upstream(const std::string& method, const std::string& key, const std::string& query_part,
             int status) {
    int n = 0;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (e.at("method") == method && std::string(e.at("path")).ends_with(key) &&
            std::string(e.at("query")).find(query_part) != std::string::npos &&
            e.at("status") == status)
            ++n;
    return n;
}

}  // namespace

TEST_CASE("CompleteMultipartUpload answered 200 with an <Error> is retried; the object is whole") {
    const auto key = unique("complete-200-error.dump");
    const auto data = random_bytes(11 * 1024 * 1024 + 17, 21);
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", key},
         {"query_contains", "uploadId="},
         {"action", "error_200"},
         {"code", "InternalError"},
         {"times", 2}},
    }));
    auto o = via_proxy();
    std::mutex m;
    std::vector<std::string> retries;
    trace_retries(o, m, retries);
    Client c(o, creds());
    upload_in_chunks(c, key, data);
    CHECK(faults("error_200", key) == 2);
    // Only the third Complete reached the server, and it completed the upload.
    CHECK(upstream("POST", key, "uploadId=", 200) == 1);
    Client d(direct(), creds());
    const auto info = d.head_object(bucket(), key);
    REQUIRE(info);
    CHECK(info->etag.ends_with("-3\""));  // 5 + 5 + 1 MiB parts
    io::MemorySink got;
    CHECK(d.get_object(bucket(), key, got) == data.size());
    CHECK(got.data() == data);
    CHECK(d.list_multipart_uploads(bucket(), key).empty());
    // Each retry is traced and counted like any other.
    int complete_retries = 0;
    for (const auto& l : retries)
        complete_retries += l.find("after 200 InternalError") != std::string::npos;
    CHECK(complete_retries == 2);
    CHECK(c.stats().retries == retries.size());
    set_rules(nlohmann::json::array());
}

TEST_CASE("a CompleteMultipartUpload that keeps answering 200 <Error> fails and aborts") {
    const auto key = unique("complete-200-forever.dump");
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", key},
         {"query_contains", "uploadId="},
         {"action", "error_200"},
         {"times", -1}},
    }));
    auto o = via_proxy();
    o.retry.max_attempts = 3;
    Client c(o, creds());
    try {
        upload_in_chunks(c, key, random_bytes(6 * 1024 * 1024, 22));
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "InternalError");
        CHECK(e.details().retryable);
        CHECK(std::string(e.what()).find("200 with an error") != std::string::npos);
    }
    CHECK(faults("error_200", key) == 3);
    Client d(direct(), creds());
    CHECK_FALSE(d.head_object(bucket(), key));
    CHECK(d.list_multipart_uploads(bucket(), key).empty());
    CHECK(upstream("DELETE", key, "uploadId=", 204) == 1);
    set_rules(nlohmann::json::array());
}

TEST_CASE("a CompleteMultipartUpload answered 200 without an ETag fails and aborts the upload") {
    const auto key = unique("complete-no-etag.dump");
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", key},
         {"query_contains", "uploadId="},
         {"action", "complete_no_etag"},
         {"times", -1}},
    }));
    Client c(via_proxy(), creds());
    auto sink = c.upload(bucket(), key);
    sink->write(io::as_bytes(random_bytes(11 * 1024 * 1024, 23)));
    try {
        sink->finish();
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(std::string(e.what()).find("without an ETag") != std::string::npos);
    }
    sink.reset();
    CHECK(faults("complete_no_etag", key) == 1);  // a failure, not retried
    Client d(direct(), creds());
    CHECK_FALSE(d.head_object(bucket(), key));
    CHECK(d.list_multipart_uploads(bucket(), key).empty());
    CHECK(upstream("DELETE", key, "uploadId=", 204) == 1);
    set_rules(nlohmann::json::array());
}

TEST_CASE("DeleteObjects errors are reported per key; the other keys are deleted") {
    const auto p = unique("delete-errors/");
    // Two batches, with failing keys in both (the proxy adds an <Error> for every key that
    // contains "locked"; moto itself deleted them all the same, so only the answer fails).
    std::vector<std::string> keys;
    for (int i = 0; i < 1003; ++i) {
        std::string k = p + "k" + std::to_string(i);
        if (i == 7) k = p + "locked-1 & <x>";
        if (i == 1001) k = p + "locked-2 \xc3\xbc";
        keys.push_back(k);
    }
    Client d(direct(), creds());
    {
        std::vector<std::thread> threads;
        std::atomic<std::size_t> next{0};
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (std::size_t i; (i = next++) < keys.size();)
                    d.put_object(bucket(), keys[i], io::as_bytes(std::string_view("x")));
            });
        for (auto& t : threads) t.join();
    }
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", bucket()},
         {"query_contains", "delete"},
         {"action", "delete_errors"},
         {"error_keys", "locked"},
         {"code", "AccessDenied"},
         {"message", "Access Denied"},
         {"times", 2}},
    }));
    Client c(via_proxy(), creds());
    auto failures = c.delete_objects(bucket(), keys);
    CHECK(faults("delete_errors", bucket()) == 2);
    std::sort(failures.begin(), failures.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    REQUIRE(failures.size() == 2);
    CHECK(failures[0].key == keys[7]);
    CHECK(failures[1].key == keys[1001]);
    for (const auto& f : failures) {
        CHECK(f.code == "AccessDenied");
        CHECK(f.message == "Access Denied");
    }
    for (const std::size_t i : {0, 6, 8, 999, 1000, 1002}) {
        CAPTURE(keys[i]);
        CHECK_FALSE(d.head_object(bucket(), keys[i]));
    }
    CHECK(d.list_objects(bucket(), p).empty());

    // The store reports them with keys relative to its prefix, code and message.
    store::StoreOptions so;
    so.use_environment = false;
    so.s3 = via_proxy();
    so.credentials = creds();
    auto s = store::open("s3://" + bucket() + "/" + p + "store", so);
    for (const std::string k : {"db/a.dump", "db/locked.dump", "docs/b.tar.gz"})
        s->put_bytes(k, "x");
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", bucket()},
         {"query_contains", "delete"},
         {"action", "delete_errors"},
         {"error_keys", "locked"},
         {"code", "AccessDenied"},
         {"message", "Access Denied"},
         {"times", 1}},
    }));
    const auto failed = s->remove_many({"db/a.dump", "db/locked.dump", "docs/b.tar.gz"});
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].key == "db/locked.dump");
    CHECK(failed[0].message.find("AccessDenied") != std::string::npos);
    CHECK(failed[0].message.find("Access Denied") != std::string::npos);
    CHECK_FALSE(s->head("db/a.dump"));
    CHECK_FALSE(s->head("docs/b.tar.gz"));

    // A batch that fails as a whole (every attempt answered 500) is reported key by key,
    // not thrown; the keys are still there, and a later call removes them.
    for (const std::string k : {"db/c.dump", "docs/d.tar.gz"}) s->put_bytes(k, "x");
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", bucket()},
         {"query_contains", "delete"},
         {"action", "500"},
         {"times", -1}},
    }));
    const auto batch_failed = s->remove_many({"db/c.dump", "docs/d.tar.gz"});
    REQUIRE(batch_failed.size() == 2);
    CHECK(batch_failed[0].key == "db/c.dump");
    CHECK(batch_failed[1].key == "docs/d.tar.gz");
    for (const auto& f : batch_failed) CHECK(f.message.find("InternalError") != std::string::npos);
    CHECK(s->head("db/c.dump"));
    set_rules(nlohmann::json::array());
    CHECK(s->remove_many({"db/c.dump", "docs/d.tar.gz"}).empty());
    CHECK_FALSE(s->head("db/c.dump"));
}

namespace {

// The request id the proxy saw in the upstream's answer to the last `method` on `key`.
std::string relayed_request_id(const std::string& method, const std::string& key) {
    std::string id;
    for (const auto& e : read_jsonl(proxy().info().at("fault_log")))
        if (e.at("method") == method && std::string(e.at("path")).ends_with(key) &&
            e.contains("request_id"))
            id = e.at("request_id").get<std::string>();
    return id;
}

}  // namespace

TEST_CASE("errors carry the request id the server sent") {
    set_rules(nlohmann::json::array());
    Client c(via_proxy(), creds());
    const auto key = unique("no-such-key");
    auto check_id = [&](const RemoteError& e, const std::string& method) {
        const auto& id = e.details().request_id;
        CHECK_FALSE(id.empty());
        CHECK(id == relayed_request_id(method, key));
        CHECK(std::string(e.what()).find("[request id " + id + "]") != std::string::npos);
    };
    try {  // from the <Error> body
        io::MemorySink sink;
        c.get_object(bucket(), key, sink);
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "NoSuchKey");
        check_id(e, "GET");
    }
    auto wrong = creds();
    wrong.secret_access_key = Secret(wrong.secret_access_key.reveal() + "x");
    Client bad(via_proxy(), wrong);
    try {
        bad.put_object(bucket(), key, io::as_bytes(std::string_view("x")));
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "SignatureDoesNotMatch");
        check_id(e, "PUT");
    }
    try {  // a HEAD has no body: from the response header
        bad.head_object(bucket(), key);
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().http_status == 403);
        check_id(e, "HEAD");
    }
}

TEST_CASE("neither the session token nor the secret appears in errors or traces") {
    set_rules(nlohmann::json::array());
    auto cr = creds();
    // Shaped like an STS token (with + / =), unknown to moto: answered InvalidToken.
    const std::string token =
        "IQoJb3JpZ2luX2VjEXAMPLE/" + std::to_string(std::random_device{}()) + "+tok==";
    const std::string secret = cr.secret_access_key.reveal();
    cr.session_token = Secret(token);
    std::vector<std::string> lines;
    std::mutex m;
    auto o = via_proxy();
    o.retry.max_attempts = 2;
    o.trace = [&](const std::string& l) {
        std::lock_guard lock(m);
        lines.push_back(l);
    };
    Client c(o, cr);
    std::vector<std::string> texts;  // every message and detail the client produced
    auto collect = [&](const RemoteError& e) {
        texts.push_back(e.what());
        texts.push_back(e.details().message);
        texts.push_back(e.details().code);
    };
    const auto key = unique("token.txt");
    try {  // moto saw the token and refused it
        c.put_object(bucket(), key, io::as_bytes(std::string_view("x")));
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "InvalidToken");
        collect(e);
    }
    bool token_sent = false;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (std::string(e.at("path")).ends_with(key))
            for (const auto& h : e.at("headers"))
                token_sent = token_sent || h == "x-amz-security-token";
    CHECK(token_sent);
    // A server quoting the request back (as AWS quotes the canonical request).
    set_rules(nlohmann::json::array({
        {{"path_contains", key}, {"action", "echo_error"}, {"times", -1}},
    }));
    try {
        c.put_object(bucket(), key, io::as_bytes(std::string_view("x")));
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().code == "SignatureDoesNotMatch");
        // The quote arrived, with the token blacked out.
        CHECK(e.details().message.find("x-amz-security-token: ***") != std::string::npos);
        collect(e);
    }
    // Retries and giving up (trace lines, the last error).
    set_rules(nlohmann::json::array({
        {{"path_contains", key}, {"action", "503"}, {"times", -1}},
    }));
    try {
        io::MemorySink sink;
        c.get_object(bucket(), key, sink);
        FAIL("no error");
    } catch (const RemoteError& e) {
        CHECK(e.details().retryable);
        collect(e);
    }
    set_rules(nlohmann::json::array());
    REQUIRE(lines.size() >= 5);
    texts.insert(texts.end(), lines.begin(), lines.end());
    for (const auto& t : texts) {
        CAPTURE(t);
        CHECK(t.find(token) == std::string::npos);
        CHECK(t.find(secret) == std::string::npos);
    }
}

// ---- conditional writes whose answer was lost ------------------------------------------

namespace {

std::unique_ptr<store::Store> store_via_proxy(const std::string& prefix,
                                              std::vector<std::string>* trace = nullptr) {
    store::StoreOptions o;
    o.use_environment = false;
    o.s3 = via_proxy();
    if (trace) {
        static std::mutex m;
        o.s3.trace = [trace](const std::string& l) {
            std::lock_guard lock(m);
            trace->push_back(l);
        };
    }
    o.credentials = creds();
    return store::open("s3://" + bucket() + "/" + prefix, o);
}

// Statuses moto answered to `method` requests on `key` (in order).
std::vector<int> upstream_statuses(const std::string& method, const std::string& key,
                                   const std::string& query_part = {}) {
    std::vector<int> out;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (e.at("method") == method && std::string(e.at("path")).ends_with(key) &&
            std::string(e.at("query")).find(query_part) != std::string::npos)
            out.push_back(e.at("status").get<int>());
    return out;
}

bool sent_header(const std::string& method, const std::string& key, const std::string& query_part,
                 const std::string& header) {
    bool all = true, any = false;
    for (const auto& e : read_jsonl(test::s3().at("request_log")))
        if (e.at("method") == method && std::string(e.at("path")).ends_with(key) &&
            std::string(e.at("query")).find(query_part) != std::string::npos) {
            any = true;
            bool has = false;
            for (const auto& h : e.at("headers")) has = has || h == header;
            all = all && has;
        }
    return any && all;
}

}  // namespace

TEST_CASE("a write-once PUT whose answer was lost is not a false conflict") {
    const auto prefix = unique("lost-put");
    std::vector<std::string> trace;
    auto s = store_via_proxy(prefix, &trace);
    const std::string key = "lock";
    set_rules(nlohmann::json::array({
        {{"method", "PUT"}, {"path_contains", prefix}, {"action", "lose_response"}, {"times", 1}},
    }));
    store::PutOptions once;
    once.no_overwrite = true;
    const auto etag = s->put_bytes(key, "ours", once);
    set_rules(nlohmann::json::array());
    CHECK(faults("lose_response", prefix) == 1);
    // The retry met the object its first attempt had published: moto answered 412.
    CHECK(upstream_statuses("PUT", prefix + "/" + key) == std::vector<int>{200, 412});
    CHECK(etag == s->head(key)->etag);
    CHECK(s->get_bytes(key) == "ours");
    bool explained = false;
    for (const auto& l : trace) explained = explained || l.find("the object is ours") != l.npos;
    CHECK(explained);

    // The same for a conditional replace (If-Match) and a conditional remove.
    set_rules(nlohmann::json::array({
        {{"method", "PUT"}, {"path_contains", prefix}, {"action", "lose_response"}, {"times", 1}},
        {{"method", "DELETE"},
         {"path_contains", prefix},
         {"action", "lose_response"},
         {"times", 1}},
    }));
    store::PutOptions cas;
    cas.if_match = etag;
    const auto renewed = s->put_bytes(key, "ours, renewed", cas);
    CHECK(renewed != etag);
    CHECK(renewed == s->head(key)->etag);
    s->remove_if(key, renewed);  // the retry meets 404: the first attempt removed it
    set_rules(nlohmann::json::array());
    CHECK_FALSE(s->head(key));
    CHECK(faults("lose_response", prefix) == 3);

    // But a conflict on a retry with someone else's object stays a conflict.
    s->put_bytes(key, "theirs");
    set_rules(nlohmann::json::array({
        {{"method", "PUT"}, {"path_contains", prefix}, {"action", "503"}, {"times", 1}},
    }));
    CHECK_THROWS_AS(s->put_bytes(key, "ours again", once), store::AlreadyExists);
    set_rules(nlohmann::json::array());
    CHECK(s->get_bytes(key) == "theirs");
}

TEST_CASE("a write-once multipart upload sends If-None-Match on Complete; a lost answer is ours") {
    const auto prefix = unique("lost-complete");
    auto s = store_via_proxy(prefix);
    const auto data = random_bytes(11 * 1024 * 1024 + 5, 77);
    store::PutOptions once;
    once.no_overwrite = true;
    auto upload = [&](const std::string& key, const std::string& bytes) {
        auto sink = s->put(key, once);
        sink->write(io::as_bytes(bytes));
        sink->finish();
        return sink->etag();
    };

    // The first Complete is applied but its answer lost; the retry is answered 412, as S3
    // answers a conditional write that meets the object (moto would treat it as idempotent).
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", prefix + "/a.dump"},
         {"query_contains", "uploadId="},
         {"action", "lose_response"},
         {"times", 1}},
        {{"method", "POST"},
         {"path_contains", prefix + "/a.dump"},
         {"query_contains", "uploadId="},
         {"action", "412"},
         {"times", 1}},
    }));
    const auto etag = upload("a.dump", data);
    set_rules(nlohmann::json::array());
    CHECK(faults("lose_response", prefix + "/a.dump") == 1);
    CHECK(faults("412", prefix + "/a.dump") == 1);
    CHECK(sent_header("POST", prefix + "/a.dump", "uploadId=", "if-none-match"));
    const auto a_info = s->head("a.dump");
    REQUIRE(a_info);
    CHECK(etag == a_info->etag);
    CHECK(etag.ends_with("-3\""));
    CHECK(s->get_bytes("a.dump") == data);

    // Lost answer, and the retry reaches moto (idempotent Complete): a success too.
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", prefix + "/b.dump"},
         {"query_contains", "uploadId="},
         {"action", "lose_response"},
         {"times", 1}},
    }));
    const auto b_etag = upload("b.dump", data);
    const auto b_info = s->head("b.dump");
    REQUIRE(b_info);
    CHECK(b_etag == b_info->etag);
    set_rules(nlohmann::json::array());

    // A retried Complete that meets another run's object: AlreadyExists, that object stays,
    // and our upload is aborted.
    const auto theirs = random_bytes(6 * 1024 * 1024, 78);
    upload("c.dump", theirs);
    set_rules(nlohmann::json::array({
        {{"method", "POST"},
         {"path_contains", prefix + "/c.dump"},
         {"query_contains", "uploadId="},
         {"action", "503"},
         {"times", 1}},
    }));
    CHECK_THROWS_AS(upload("c.dump", data), store::AlreadyExists);
    set_rules(nlohmann::json::array());
    CHECK(s->get_bytes("c.dump") == theirs);
    Client direct_client(direct(), creds());
    CHECK(direct_client.list_multipart_uploads(bucket(), prefix + "/").empty());
}
