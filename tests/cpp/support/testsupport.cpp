#include "testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/io.hpp>

#include <csignal>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

namespace dolibak::test {

TempDir::TempDir(const std::string& prefix) {
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (int i = 0; i < 100; ++i) {
        auto candidate = base / (prefix + "-" + std::to_string(rd()));
        if (std::filesystem::create_directory(candidate)) {
            path_ = candidate;
            return;
        }
    }
    throw Error("cannot create a temporary directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    // Make every directory writable so that read-only test trees can be removed.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec))
            std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                         std::filesystem::perm_options::add, ec);
    }
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, std::string_view content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!f) throw Error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot read " + path.string());
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

std::string largest_object(store::Store& store, const std::string& prefix) {
    std::string key;
    std::uint64_t largest = 0;
    for (const auto& o : store.list(prefix))
        if (key.empty() || o.size > largest) {
            largest = o.size;
            key = o.key;
        }
    return key;
}

std::filesystem::path source_dir() {
    return DOLIBAK_SOURCE_DIR;
}

std::filesystem::path test_data_dir() {
    return DOLIBAK_TEST_DATA_DIR;
}

Fixture::Fixture(const std::filesystem::path& script, std::vector<std::string> args) {
    process::ProcessOptions o;
    o.argv = {"/usr/bin/python3", script.string(), "serve"};
    for (auto& a : args) o.argv.push_back(std::move(a));
    // The fixtures find their tools through the environment (DOLIBAK_MOTO_PYTHON, PATH...).
    o.env_base = process::EnvBase::parent;
    o.in = process::Stdio::pipe;  // our end stays open for the fixture's lifetime
    o.out = process::Stdio::pipe;
    o.err = process::Stdio::capture;
    process_ = std::make_unique<process::Process>(std::move(o));
    // The first line on stdout is the fixture's JSON.
    std::string line;
    char c;
    std::byte b[1];
    while (process_->out().read(b) == 1) {
        c = static_cast<char>(b[0]);
        if (c == '\n') break;
        line += c;
    }
    if (line.empty()) {
        const auto status = process_->wait();
        throw ProcessError(
            "fixture " + script.filename().string() + " did not start: " + status.describe(),
            script.string(), status.code, status.signal, process_->stderr_tail());
    }
    info_ = nlohmann::json::parse(line);
}

Fixture::~Fixture() {
    if (!process_) return;
    // Closing its stdin tells the fixture to tear down; give it time to do so.
    process_->in().abort();
    if (!process_->wait_for(std::chrono::seconds(30))) {
        process_->kill(SIGTERM);
        process_->wait();
    }
}

namespace {
std::mutex fixture_mutex;
std::unique_ptr<Fixture> pg_fixture;
std::unique_ptr<Fixture> s3_fixture;

// Tears the fixtures down at exit, after the tests ran.
struct Teardown {
    ~Teardown() {
        s3_fixture.reset();
        pg_fixture.reset();
    }
} teardown;
}  // namespace

const nlohmann::json& pg() {
    std::lock_guard lock(fixture_mutex);
    if (!pg_fixture)
        pg_fixture = std::make_unique<Fixture>(source_dir() / "tools/testenv/pgfixture.py",
                                               std::vector<std::string>{});
    return pg_fixture->info();
}

std::vector<std::pair<std::string, std::optional<std::string>>> pg_env(const std::string& role) {
    const auto& info = pg();
    const auto& r = info.at(role);
    return {
        {"PGHOST", info.at("host").get<std::string>()},
        {"PGPORT", std::to_string(info.at("port").get<int>())},
        {"PGUSER", r.at("user").get<std::string>()},
        {"PGPASSWORD", r.at("password").get<std::string>()},
        {"PGDATABASE", r.at("dbname").get<std::string>()},
        {"PGSERVICE", std::nullopt},
        {"PGPASSFILE", "/dev/null"},
    };
}

std::string pg_conninfo(const std::string& role) {
    const auto& info = pg();
    const auto& r = info.at(role);
    return "host=" + info.at("host").get<std::string>() +
           " port=" + std::to_string(info.at("port").get<int>()) +
           " user=" + r.at("user").get<std::string>() +
           " dbname=" + r.at("dbname").get<std::string>();
}

const nlohmann::json& s3() {
    std::lock_guard lock(fixture_mutex);
    if (!s3_fixture)
        s3_fixture = std::make_unique<Fixture>(source_dir() / "tools/testenv/s3fixture.py",
                                               std::vector<std::string>{});
    return s3_fixture->info();
}

}  // namespace dolibak::test
