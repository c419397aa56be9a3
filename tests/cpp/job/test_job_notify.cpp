// Notifications (Config::notify): the outcome's hook gets the JSON on stdin and the documented
// variables; the webhook receives a Slack-compatible JSON POST without secrets, is retried on
// a 5xx, and a dead or hanging endpoint leaves the operation's result alone (a warning).
// A tiny HTTP server on 127.0.0.1 stands in for the webhook.
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/job/settings.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

using namespace dolibak;
using Json = nlohmann::json;

namespace {

const std::string db_password = "db-pass-5ecret";
const std::string token = "T0KEN-xoxb-99";

/// Answers each request with the next status of `statuses` (the last one repeats), or never
/// answers (hang).
class HttpServer {
public:
    explicit HttpServer(std::vector<int> statuses, bool hang = false)
        : statuses_(std::move(statuses)), hang_(hang) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~HttpServer() {
        stop_ = true;
        thread_.join();
        for (int c : open_) ::close(c);
        ::close(fd_);
    }
    int port() const { return port_; }
    std::vector<std::string> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void serve() {
        std::size_t n = 0;
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            std::string req = read_request(c);
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(req);
            }
            if (hang_) {
                open_.push_back(c);
                continue;
            }
            const int status = statuses_[std::min(n++, statuses_.size() - 1)];
            const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                                       " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            (void)!::write(c, answer.data(), answer.size());
            ::close(c);
        }
    }
    static std::string read_request(int c) {
        std::string r;
        char buf[4096];
        std::size_t want = std::string::npos;
        while (want == std::string::npos || r.size() < want) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) break;
            const ssize_t k = ::read(c, buf, sizeof buf);
            if (k <= 0) break;
            r.append(buf, static_cast<std::size_t>(k));
            const auto end = r.find("\r\n\r\n");
            if (want == std::string::npos && end != std::string::npos) {
                const auto cl = r.find("Content-Length: ");
                const std::size_t body =
                    cl == std::string::npos ? 0 : std::stoul(r.substr(cl + 16));
                want = end + 4 + body;
            }
        }
        return r;
    }

    std::vector<int> statuses_;
    bool hang_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::vector<int> open_;
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
};

std::string body_of(const std::string& request) {
    const auto end = request.find("\r\n\r\n");
    return end == std::string::npos ? "" : request.substr(end + 4);
}

/// A port nothing listens on (connection refused).
int dead_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct Instance {
    store::MemoryStore mem{"notify"};
    sim::ManualClock clock{std::chrono::sys_days{std::chrono::year{2026} / 3 / 1}};
    sim::FakeHalf db{"db"}, docs{"docs"};
    sim::SimEnv env{mem, clock, db, docs};
    std::mutex mutex;
    std::vector<std::string> warnings;

    job::Job make(job::NotifySettings n) {
        auto c = sim::sim_config();
        c.db->conn.password = Secret(db_password);
        c.notify = std::move(n);
        c.on_event = [this](const job::Event& e) {
            if (e.kind != job::Event::Kind::warning) return;
            std::lock_guard lock(mutex);
            warnings.push_back(e.message);
        };
        return job::Job(c, env);
    }
    std::string all_warnings() {
        std::lock_guard lock(mutex);
        std::string s;
        for (const auto& w : warnings) s += w + "\n";
        return s;
    }
};

/// A hook writing its stdin and its environment to files of `dir`.
std::vector<std::string> recording_hook(const std::filesystem::path& dir, const std::string& name) {
    return {"/bin/sh",
            "-c",
            "cat > \"$1\"; env > \"$2\"",
            "hook",
            (dir / (name + ".json")).string(),
            (dir / (name + ".env")).string()};
}

std::string webhook_url(int port) {
    return "http://127.0.0.1:" + std::to_string(port) + "/services/" + token;
}

}  // namespace

TEST_CASE("notify: the success hook gets the notification's JSON on stdin and the variables") {
    test::TempDir dir;
    Instance in;
    job::NotifySettings n;
    n.on_success = recording_hook(dir.path(), "ok");
    n.on_failure = recording_hook(dir.path(), "failed");
    auto job = in.make(n);
    const auto report = job.backup();
    REQUIRE(report.ok());
    CHECK(in.all_warnings().empty());
    CHECK_FALSE(std::filesystem::exists(dir.path() / "failed.json"));
    const auto j = Json::parse(test::read_file(dir.path() / "ok.json"));
    CHECK(j.at("event") == "backup");
    CHECK(j.at("ok") == true);
    CHECK(j.at("text").get<std::string>().starts_with("dolibak backup of mem://sim ok"));
    CHECK(j.at("report").at("manifest_key") == report.manifest_key);
    const auto env = test::read_file(dir.path() / "ok.env");
    CHECK(env.find("DOLIBAK_EVENT=backup\n") != std::string::npos);
    CHECK(env.find("DOLIBAK_OK=1\n") != std::string::npos);
    CHECK(env.find("DOLIBAK_STORE=mem://sim\n") != std::string::npos);
    CHECK(env.find(db_password) == std::string::npos);

    // prune and verify notify too
    job.verify();
    CHECK(Json::parse(test::read_file(dir.path() / "ok.json")).at("event") == "verify");
    job.prune();
    CHECK(Json::parse(test::read_file(dir.path() / "ok.json")).at("event") == "prune");
}

TEST_CASE("notify: the failure hook runs for a failed half and for an operation that throws") {
    test::TempDir dir;
    Instance in;
    job::NotifySettings n;
    n.on_success = recording_hook(dir.path(), "ok");
    n.on_failure = recording_hook(dir.path(), "failed");
    auto job = in.make(n);

    // verify with nothing in the store throws: notified, then rethrown
    CHECK_THROWS(job.verify());
    auto j = Json::parse(test::read_file(dir.path() / "failed.json"));
    CHECK(j.at("event") == "verify");
    CHECK(j.at("ok") == false);
    CHECK(j.at("report").is_null());
    CHECK_FALSE(j.at("error").get<std::string>().empty());
    CHECK(test::read_file(dir.path() / "failed.env").find("DOLIBAK_OK=0\n") != std::string::npos);

    in.db.on_step = [](const std::string& step) {
        if (step == "fingerprint") throw Error("the database is down");
    };
    const auto report = job.backup();
    CHECK_FALSE(report.ok());
    j = Json::parse(test::read_file(dir.path() / "failed.json"));
    CHECK(j.at("event") == "backup");
    CHECK(j.at("text").get<std::string>().find("FAILED: db: ") != std::string::npos);
    CHECK(j.at("text").get<std::string>().find("the database is down") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "ok.json"));
}

TEST_CASE("notify: a hook that fails or hangs is a warning, the backup stands") {
    Instance in;
    job::NotifySettings n;
    n.timeout = std::chrono::seconds(1);
    SUBCASE("exit 3") {
        n.on_success = {"/bin/sh", "-c", "echo 'mail: no route' >&2; exit 3"};
        auto job = in.make(n);
        CHECK(job.backup().ok());
        CHECK(in.all_warnings().find("on_success hook failed: exited with status 3: mail: no "
                                     "route") != std::string::npos);
    }
    SUBCASE("never exits, never reads") {
        n.on_success = {"/bin/sleep", "60"};
        auto job = in.make(n);
        CHECK(job.backup().ok());
        CHECK(in.all_warnings().find("killed after 1 s") != std::string::npos);
    }
    SUBCASE("not found") {
        n.on_success = {"/nonexistent/hook"};
        auto job = in.make(n);
        CHECK(job.backup().ok());
        CHECK(in.all_warnings().find("on_success hook failed") != std::string::npos);
    }
}

TEST_CASE("notify: the webhook receives a Slack-compatible POST without secrets") {
    HttpServer server({200});
    Instance in;
    job::NotifySettings n;
    n.webhook_url = Secret(webhook_url(server.port()));
    auto job = in.make(n);
    REQUIRE(job.backup().ok());
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].starts_with("POST /services/" + token + " HTTP/1.1"));
    const std::string body = body_of(requests[0]);
    const auto j = Json::parse(body);
    CHECK(j.at("text").get<std::string>().starts_with("dolibak backup of mem://sim ok"));
    CHECK(j.at("event") == "backup");
    CHECK(j.at("ok") == true);
    CHECK(j.at("report").at("halves").size() == 2);
    CHECK(body.find(token) == std::string::npos);
    CHECK(body.find(db_password) == std::string::npos);
    CHECK(in.all_warnings().empty());
}

TEST_CASE("notify: a webhook answering 500 is retried") {
    HttpServer server({500, 500, 200});
    Instance in;
    job::NotifySettings n;
    n.webhook_url = Secret(webhook_url(server.port()));
    auto job = in.make(n);
    REQUIRE(job.backup().ok());
    CHECK(server.requests().size() == 3);
    CHECK(in.all_warnings().empty());
}

TEST_CASE("notify: a dead or hanging webhook leaves the backup ok, with a warning") {
    Instance in;
    job::NotifySettings n;
    n.timeout = std::chrono::seconds(1);
    std::unique_ptr<HttpServer> server;
    SUBCASE("connection refused") {
        n.webhook_url = Secret(webhook_url(dead_port()));
    }
    SUBCASE("never answers") {
        server = std::make_unique<HttpServer>(std::vector<int>{200}, true);
        n.webhook_url = Secret(webhook_url(server->port()));
    }
    SUBCASE("answers 500 every time") {
        server = std::make_unique<HttpServer>(std::vector<int>{500});
        n.webhook_url = Secret(webhook_url(server->port()));
    }
    auto job = in.make(n);
    const auto report = job.backup();
    CHECK(report.ok());
    CHECK_FALSE(report.manifest_key.empty());
    const auto w = in.all_warnings();
    CHECK(w.find("notification: the webhook failed: ") != std::string::npos);
    CHECK(w.find(token) == std::string::npos);
}

TEST_CASE("notify: settings") {
    const job::Environment none;
    job::Settings s;
    s["store"] = {"file:///tmp/x", std::nullopt, "test"};
    s["db_name"] = {"d", std::nullopt, "test"};
    s["on_success"] = {"/usr/local/bin/tell  --to ops", std::nullopt, "DOLIBAK_ON_SUCCESS"};
    s["on_failure"] = {"", std::vector<std::string>{"/usr/bin/mail", "-s", "dolibak failed"}, "f"};
    s["webhook_url"] = {"https://hooks.slack.com/services/" + token, std::nullopt, "f"};
    s["notify_timeout"] = {"30s", std::nullopt, "f"};
    auto c = job::config_from_settings(s, &none);
    CHECK(c.notify.on_success == std::vector<std::string>{"/usr/local/bin/tell", "--to", "ops"});
    CHECK(c.notify.on_failure == std::vector<std::string>{"/usr/bin/mail", "-s", "dolibak failed"});
    CHECK(c.notify.webhook_url.reveal() == "https://hooks.slack.com/services/" + token);
    CHECK(c.notify.timeout == std::chrono::seconds(30));

    s["webhook_url"] = {"ftp://x/" + token, std::nullopt, "f"};
    try {
        job::config_from_settings(s, &none);
        FAIL("accepted an ftp webhook");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find(token) == std::string::npos);
    }
    CHECK(job::find_setting("webhook_url")->secret);
}
