#pragma once
// The credential sources that run something: a credential_process child and the two STS
// calls (AssumeRole, AssumeRoleWithWebIdentity). Layer-private: for credentials.cpp, the
// tests and tests/fuzz.
#include <dolibak/core/secret.hpp>
#include <dolibak/s3/credentials.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace dolibak::s3 {

/// Where STS answers.
struct StsTarget {
    std::string endpoint;  ///< a URL; empty: https://sts.<region>.amazonaws.com
    std::string region;    ///< the signing region; empty or "auto": us-east-1
    std::string ca_bundle;
    bool verify_tls = true;
};

struct AssumeRoleRequest {
    std::string role_arn;
    std::string session_name;
    std::string external_id;  ///< AssumeRole only; empty: not sent
    std::optional<int> duration_seconds;
    std::string profile;  ///< for messages: the profile that asked, or empty
};

/// STS AssumeRole, signed with `source` (its session token included).
Credentials sts_assume_role(const StsTarget& sts, const Credentials& source,
                            const AssumeRoleRequest& request);
/// STS AssumeRoleWithWebIdentity: unsigned, the token in the form body.
Credentials sts_assume_role_with_web_identity(const StsTarget& sts,
                                              const AssumeRoleRequest& request,
                                              const Secret& token);

/// Parses a credential process's standard output (JSON, Version 1). Throws ConfigError naming
/// the profile, never quoting the output.
Credentials parse_process_credentials(const std::string& output, const std::string& profile);
/// Runs `command` (split_command_line, no shell) with a minimal environment taken from `env`
/// (PATH, HOME, locale, TZ, TMPDIR and AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE,
/// AWS_REGION, AWS_DEFAULT_REGION); throws ConfigError naming the profile and the exit status.
/// A child still running after `timeout` is killed (an error too).
Credentials run_credential_process(const std::string& command, const std::string& profile,
                                   const std::map<std::string, std::string>& env,
                                   std::chrono::seconds timeout = std::chrono::minutes(2));

/// An ISO 8601 time with an optional fraction and a Z or +hh:mm / -hh:mm offset.
std::chrono::system_clock::time_point parse_expiration(const std::string& text);

/// resolve_config without running anything: the sources that need a child or STS are found
/// but not used (their credentials stay empty). For the fuzzer.
ResolvedConfig resolve_config_offline(const CredentialOptions& options);

}  // namespace dolibak::s3
