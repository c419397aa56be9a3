#pragma once
// Shared helpers of the C++ tests: temporary directories, and the real-server fixtures
// (PostgreSQL from Debian's packages, moto with SigV4 checking) started once per test
// program through tools/testenv/*.py in `serve` mode. The fixture's lifetime is bound to a
// pipe: when the test program exits, even by a crash, the fixture sees EOF and tears down.
#include <dolibak/process/process.hpp>
#include <dolibak/store/store.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace dolibak::test {

/// A directory removed (recursively) when the object dies.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "dolibak-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);
/// n pseudo-random bytes, the same for the same seed (std::mt19937, one byte a draw).
std::string random_bytes(std::size_t n, unsigned seed);

/// The key of the largest object under `prefix` (the first listed among equals); "" if none.
/// In a packs store: the pack of content a test damages (a pack of index pieces is smaller).
std::string largest_object(store::Store& store, const std::string& prefix);

std::filesystem::path source_dir();
/// tests/data of the source tree: test vectors kept in the repository.
std::filesystem::path test_data_dir();

/// A running fixture: a `serve` child and the JSON line it printed.
class Fixture {
public:
    /// Spawns `python3 <script> serve <args...>` and reads its JSON line.
    Fixture(const std::filesystem::path& script, std::vector<std::string> args);
    ~Fixture();
    const nlohmann::json& info() const noexcept { return info_; }

private:
    std::unique_ptr<process::Process> process_;
    nlohmann::json info_;
};

/// The PostgreSQL fixture of this test program (started on first use).
const nlohmann::json& pg();
/// libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) for one of
/// the fixture's roles: "prod", "sandbox" or "superuser".
std::vector<std::pair<std::string, std::optional<std::string>>> pg_env(const std::string& role);
/// A libpq connection string without password for a role (the password goes in PGPASSWORD).
std::string pg_conninfo(const std::string& role);

/// The S3 fixture of this test program (started on first use).
const nlohmann::json& s3();

}  // namespace dolibak::test
