// libFuzzer target: the text a user configures dolibak with — the JSON config file, the
// DOLIBAK_* / PG* environment, a --to conninfo, the size/duration/bool values and the AWS
// shared credentials/config files — must be accepted or refused with a dolibak::Error, never
// crash, hang or throw anything else. The same bytes go to every parser.
#include "fuzz_support.hpp"
#include "s3/credential_sources.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/settings.hpp>
#include <dolibak/s3/credentials.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace {

namespace job = dolibak::job;

// Where the AWS files are written for resolve_config (one per process, removed at exit).
struct AwsFiles {
    std::string dir;
    std::string file;
    AwsFiles() {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/dolibak-fuzz-config-XXXXXX";
        if (::mkdtemp(templ.data()) == nullptr) std::abort();
        dir = templ;
        file = dir + "/aws";
    }
    ~AwsFiles() {
        ::unlink(file.c_str());
        ::rmdir(dir.c_str());
    }
    void write(std::string_view text) const {
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) std::abort();
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
            if (n <= 0) std::abort();
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
};

// "NAME=value" lines.
job::Environment environment_of(std::string_view text) {
    job::Environment env;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        const auto eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const AwsFiles aws;
    const std::string text(reinterpret_cast<const char*>(data), size);
    const job::Environment env = environment_of(text);

    dolibak::fuzz::refused_or_accepted([&] {
        auto s = job::settings_from_json(text, "fuzz.json");
        // profile_file names a file to read: keep the fuzzer off the file system.
        s.erase("profile_file");
        (void)job::secret_values(s);
        (void)job::config_from_settings(s, &env);
    });
    dolibak::fuzz::refused_or_accepted([&] {
        std::vector<std::string> unknown;
        auto s = job::settings_from_environment(&env, &unknown);
        s.erase("profile_file");
        (void)job::config_from_settings(s, &env);
    });
    // A conninfo (with '='; other text names a database or a settings file to read).
    if (text.find('=') != std::string::npos && !text.ends_with(".json"))
        dolibak::fuzz::refused_or_accepted(
            [&] { (void)job::target_connection(text, "--to", &env); });
    dolibak::fuzz::refused_or_accepted([&] { (void)job::parse_size(text, "fuzz"); });
    dolibak::fuzz::refused_or_accepted([&] { (void)job::parse_duration(text, "fuzz"); });
    dolibak::fuzz::refused_or_accepted([&] { (void)job::parse_bool(text, "fuzz"); });
    (void)job::split_list(text);

    dolibak::fuzz::refused_or_accepted([&] { (void)dolibak::s3::parse_aws_ini(text, "fuzz.ini"); });
    dolibak::fuzz::refused_or_accepted([&] {
        aws.write(text);
        dolibak::s3::CredentialOptions o;
        o.credentials_file = aws.file;
        o.config_file = aws.file;
        o.env = std::map<std::string, std::string>(env.begin(), env.end());
        // Offline: a fuzzed profile's credential_process is never run, STS never asked.
        (void)dolibak::s3::resolve_config_offline(o);
    });
    return 0;
}
