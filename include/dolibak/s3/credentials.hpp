#pragma once
// AWS credentials and the S3 settings that come with them, resolved as aws-cli does (the
// order of its credential chain):
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   2. an assume-role profile: `role_arn` + `source_profile` (STS AssumeRole signed with the
//      source profile's credentials; `role_session_name`, `external_id`, `duration_seconds`);
//   3. web identity (EKS pods): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
//      [+ AWS_ROLE_SESSION_NAME], or the profile's `web_identity_token_file` + `role_arn`
//      (STS AssumeRoleWithWebIdentity, unsigned);
//   4. the profile's static keys in the credentials file;
//   5. the profile's `credential_process` (split into an argv like aws-cli, run without a
//      shell, with a minimal environment; its JSON output, Version 1);
//   6. the profile's static keys in the config file.
// The profile is AWS_PROFILE (or AWS_DEFAULT_PROFILE, else "default") in ~/.aws/config and
// ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE). Temporary credentials
// (STS, a process giving an Expiration) are renewed before they expire: see
// CredentialProvider. Instance metadata, containers' credential endpoints and SSO are not
// supported.
#include <dolibak/core/export.hpp>
#include <dolibak/core/secret.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::s3 {

struct DOLIBAK_API Credentials {
    std::string access_key_id;
    Secret secret_access_key;
    Secret session_token;  ///< empty when the credentials are long-term
    /// Where they came from, for messages: "environment", "profile default in ~/.aws/credentials".
    std::string source;
    /// When temporary credentials stop working; unset for long-term keys.
    std::optional<std::chrono::system_clock::time_point> expiration;

    bool empty() const noexcept { return access_key_id.empty() || secret_access_key.empty(); }
};

/// The credentials a client signs with, renewed when they are temporary. Thread-safe: one
/// renewal at a time, the others wait for it.
class DOLIBAK_API CredentialProvider {
public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;
    /// Gets new credentials (spawns the credential process, asks STS); throws on failure.
    using Fetch = std::function<Credentials()>;

    /// Credentials that are never renewed.
    explicit CredentialProvider(Credentials fixed);
    /// `first` (already fetched), renewed through `fetch` once less than a quarter of their
    /// lifetime, at most 15 minutes, is left before their expiration.
    CredentialProvider(Credentials first, Fetch fetch, Clock clock = {});
    ~CredentialProvider();
    CredentialProvider(const CredentialProvider&) = delete;
    CredentialProvider& operator=(const CredentialProvider&) = delete;

    /// The credentials to sign with now. A renewal that fails while the current credentials
    /// are still valid keeps them (and is tried again on the next call); once they have
    /// expired the failure is thrown.
    Credentials current();
    /// How many times fetch succeeded after the first credentials (for tests and traces).
    unsigned renewals() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Where to look. Unset fields are read from the process environment (`env`, for tests).
struct DOLIBAK_API CredentialOptions {
    std::optional<std::string> profile;  ///< else AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
    std::optional<std::filesystem::path> credentials_file;  ///< else AWS_SHARED_CREDENTIALS_FILE
    std::optional<std::filesystem::path> config_file;       ///< else AWS_CONFIG_FILE
    /// Environment to read instead of the process's (tests); nullopt: the real one.
    std::optional<std::map<std::string, std::string>> env;
    /// false: the caller has its own credentials. Nothing is resolved for them, and neither
    /// AWS_PROFILE nor the shared files are read (a stale AWS_PROFILE is irrelevant); the
    /// settings come from the environment variables alone.
    bool resolve_credentials = true;
};

/// Settings for reaching S3 that come from the environment and the config file.
struct DOLIBAK_API ResolvedConfig {
    Credentials credentials;  ///< the first credentials (empty without resolve_credentials)
    /// Serves `credentials` and renews them when they are temporary; null when empty.
    std::shared_ptr<CredentialProvider> provider;
    std::string region;        ///< AWS_REGION, AWS_DEFAULT_REGION, profile `region`; may be empty
    std::string endpoint_url;  ///< AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile `endpoint_url`
    /// STS for assume-role and web identity: AWS_ENDPOINT_URL_STS, the profile's
    /// `sts = endpoint_url`, AWS_ENDPOINT_URL, the profile's `endpoint_url`, else empty (the
    /// regional https://sts.<region>.amazonaws.com).
    std::string sts_endpoint_url;
    /// profile `s3 = \n addressing_style = path|virtual|auto`; empty when not set.
    std::string addressing_style;
    /// AWS_CA_BUNDLE, else the profile's `ca_bundle` (aws-cli's convention); may be empty.
    std::string ca_bundle;
    std::string profile;  ///< the profile that was used
};

/// Resolves credentials and settings. Throws ConfigError when no credentials are found (the
/// message names every source tried and why it gave none) or when a file is malformed; the
/// error of a source that is configured but fails (a credential process exiting badly, STS
/// refusing) is thrown with the sources tried before it. Never a secret in a message.
DOLIBAK_API ResolvedConfig resolve_config(const CredentialOptions& options = {});

/// Credentials only (resolve_config(options).credentials).
DOLIBAK_API Credentials resolve_credentials(const CredentialOptions& options = {});

/// Parses an AWS INI file (credentials or config): section -> key -> value. Nested
/// sub-sections (`s3 =` followed by indented `key = value` lines) are flattened to
/// "s3.key". Throws ConfigError with the line number on a malformed line.
DOLIBAK_API std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(
    std::string_view text, const std::string& name);

/// Splits a credential_process command line into an argv the way aws-cli does (POSIX shell
/// words: blanks separate, '...' is literal, "..." keeps blanks and takes \ before \ " $ `,
/// a \ outside quotes escapes the next character); no expansion of any kind. Throws
/// ConfigError for an unterminated quote or an empty command.
DOLIBAK_API std::vector<std::string> split_command_line(std::string_view command);

}  // namespace dolibak::s3
