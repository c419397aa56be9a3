#pragma once
// AWS credentials and the S3 settings that come with them, resolved as the AWS tools do:
// explicit values, then the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), then the shared files (~/.aws/credentials and ~/.aws/config, or
// AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE) for the profile AWS_PROFILE (or "default").
// Instance metadata, SSO and credential_process are not supported.
#include <dolibak/core/export.hpp>
#include <dolibak/core/secret.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace dolibak::s3 {

struct DOLIBAK_API Credentials {
    std::string access_key_id;
    Secret secret_access_key;
    Secret session_token;  ///< empty when the credentials are long-term
    /// Where they came from, for messages: "environment", "profile default in ~/.aws/credentials".
    std::string source;

    bool empty() const noexcept { return access_key_id.empty() || secret_access_key.empty(); }
};

/// Where to look. Unset fields are read from the process environment (`env`, for tests).
struct DOLIBAK_API CredentialOptions {
    std::optional<std::string> profile;  ///< else AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
    std::optional<std::filesystem::path> credentials_file;  ///< else AWS_SHARED_CREDENTIALS_FILE
    std::optional<std::filesystem::path> config_file;       ///< else AWS_CONFIG_FILE
    /// Environment to read instead of the process's (tests); nullopt: the real one.
    std::optional<std::map<std::string, std::string>> env;
};

/// Settings for reaching S3 that come from the environment and the config file.
struct DOLIBAK_API ResolvedConfig {
    Credentials credentials;
    std::string region;        ///< AWS_REGION, AWS_DEFAULT_REGION, profile `region`; may be empty
    std::string endpoint_url;  ///< AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile `endpoint_url`
    /// profile `s3 = \n addressing_style = path|virtual|auto`; empty when not set.
    std::string addressing_style;
    /// AWS_CA_BUNDLE, else the profile's `ca_bundle` (aws-cli's convention); may be empty.
    std::string ca_bundle;
    std::string profile;  ///< the profile that was used
};

/// Resolves credentials and settings. Throws ConfigError when no credentials are found or
/// when a file is malformed; the message names the places looked at, never a secret.
DOLIBAK_API ResolvedConfig resolve_config(const CredentialOptions& options = {});

/// Credentials only (resolve_config(options).credentials).
DOLIBAK_API Credentials resolve_credentials(const CredentialOptions& options = {});

/// Parses an AWS INI file (credentials or config): section -> key -> value. Nested
/// sub-sections (`s3 =` followed by indented `key = value` lines) are flattened to
/// "s3.key". Throws ConfigError with the line number on a malformed line.
DOLIBAK_API std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(
    std::string_view text, const std::string& name);

}  // namespace dolibak::s3
