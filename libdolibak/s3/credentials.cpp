#include <dolibak/core/error.hpp>
#include <dolibak/s3/credentials.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

namespace dolibak::s3 {

namespace {

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t\r");
    return std::string(s.substr(b, e - b + 1));
}

class Env {
public:
    explicit Env(const std::optional<std::map<std::string, std::string>>& given) {
        if (given) {
            vars_ = *given;
            return;
        }
        for (char** e = environ; e && *e; ++e) {
            const std::string_view kv(*e);
            const auto eq = kv.find('=');
            if (eq != std::string_view::npos)
                vars_.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    std::string get(const std::string& name) const {
        const auto it = vars_.find(name);
        return it == vars_.end() ? std::string() : it->second;
    }

private:
    std::map<std::string, std::string> vars_;
};

std::optional<std::string> read_text(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) return std::nullopt;
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::filesystem::path home_dir(const Env& env) {
    const auto h = env.get("HOME");
    return h.empty() ? std::filesystem::path("/") : std::filesystem::path(h);
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(std::string_view text,
                                                                        const std::string& name) {
    std::map<std::string, std::map<std::string, std::string>> out;
    std::string section;
    std::string nested;  // "s3" while reading the indented lines of "s3 ="
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        const std::string_view raw = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        const std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        const bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
        if (line.front() == '[') {
            if (line.back() != ']')
                throw ConfigError(name + ":" + std::to_string(line_no) + ": malformed section");
            section = trim(std::string_view(line).substr(1, line.size() - 2));
            nested.clear();
            out[section];
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos || section.empty())
            throw ConfigError(name + ":" + std::to_string(line_no) +
                              ": expected 'name = value' inside a [section]");
        const std::string key = trim(std::string_view(line).substr(0, eq));
        const std::string value = trim(std::string_view(line).substr(eq + 1));
        if (indented && !nested.empty()) {
            out[section][nested + "." + key] = value;
            continue;
        }
        nested.clear();
        if (value.empty())
            nested = key;  // a sub-section follows
        else
            out[section][key] = value;
    }
    return out;
}

ResolvedConfig resolve_config(const CredentialOptions& options) {
    const Env env(options.env);
    ResolvedConfig rc;
    rc.profile = options.profile.value_or("");
    if (rc.profile.empty()) rc.profile = env.get("AWS_PROFILE");
    if (rc.profile.empty()) rc.profile = env.get("AWS_DEFAULT_PROFILE");
    const bool explicit_profile = !rc.profile.empty();
    if (rc.profile.empty()) rc.profile = "default";

    std::filesystem::path cred_path = options.credentials_file.value_or("");
    if (cred_path.empty() && !env.get("AWS_SHARED_CREDENTIALS_FILE").empty())
        cred_path = env.get("AWS_SHARED_CREDENTIALS_FILE");
    if (cred_path.empty()) cred_path = home_dir(env) / ".aws" / "credentials";
    std::filesystem::path conf_path = options.config_file.value_or("");
    if (conf_path.empty() && !env.get("AWS_CONFIG_FILE").empty())
        conf_path = env.get("AWS_CONFIG_FILE");
    if (conf_path.empty()) conf_path = home_dir(env) / ".aws" / "config";

    std::map<std::string, std::string> cred_section, conf_section;
    bool profile_found = false;
    if (const auto text = read_text(cred_path)) {
        auto ini = parse_aws_ini(*text, cred_path.string());
        if (auto it = ini.find(rc.profile); it != ini.end()) {
            cred_section = it->second;
            profile_found = true;
        }
    }
    if (const auto text = read_text(conf_path)) {
        auto ini = parse_aws_ini(*text, conf_path.string());
        const std::string name = rc.profile == "default" ? "default" : "profile " + rc.profile;
        auto it = ini.find(name);
        if (it == ini.end() && rc.profile == "default") it = ini.find("profile default");
        if (it != ini.end()) {
            conf_section = it->second;
            profile_found = true;
        }
    }
    if (explicit_profile && !profile_found && env.get("AWS_ACCESS_KEY_ID").empty())
        throw ConfigError("AWS profile '" + rc.profile + "' is not in " + cred_path.string() +
                          " nor in " + conf_path.string());

    auto& c = rc.credentials;
    if (!env.get("AWS_ACCESS_KEY_ID").empty() && !env.get("AWS_SECRET_ACCESS_KEY").empty()) {
        c.access_key_id = env.get("AWS_ACCESS_KEY_ID");
        c.secret_access_key = Secret(env.get("AWS_SECRET_ACCESS_KEY"));
        c.session_token = Secret(env.get("AWS_SESSION_TOKEN"));
        c.source = "environment (AWS_ACCESS_KEY_ID)";
    } else {
        for (const auto* section : {&cred_section, &conf_section}) {
            const auto ak = section->find("aws_access_key_id");
            const auto sk = section->find("aws_secret_access_key");
            if (ak == section->end() || sk == section->end()) continue;
            c.access_key_id = ak->second;
            c.secret_access_key = Secret(sk->second);
            if (auto t = section->find("aws_session_token"); t != section->end())
                c.session_token = Secret(t->second);
            c.source = "profile " + rc.profile + " in " +
                       (section == &cred_section ? cred_path : conf_path).string();
            break;
        }
    }

    rc.region = env.get("AWS_REGION");
    if (rc.region.empty()) rc.region = env.get("AWS_DEFAULT_REGION");
    if (rc.region.empty())
        if (auto it = conf_section.find("region"); it != conf_section.end()) rc.region = it->second;
    rc.endpoint_url = env.get("AWS_ENDPOINT_URL_S3");
    if (rc.endpoint_url.empty()) rc.endpoint_url = env.get("AWS_ENDPOINT_URL");
    if (rc.endpoint_url.empty())
        for (const char* k : {"s3.endpoint_url", "endpoint_url"})
            if (auto it = conf_section.find(k); it != conf_section.end()) {
                rc.endpoint_url = it->second;
                break;
            }
    if (auto it = conf_section.find("s3.addressing_style"); it != conf_section.end())
        rc.addressing_style = it->second;
    rc.ca_bundle = env.get("AWS_CA_BUNDLE");
    if (rc.ca_bundle.empty())
        if (auto it = conf_section.find("ca_bundle"); it != conf_section.end())
            rc.ca_bundle = it->second;
    return rc;
}

Credentials resolve_credentials(const CredentialOptions& options) {
    auto rc = resolve_config(options);
    if (rc.credentials.empty())
        throw ConfigError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "put them in profile '" +
            rc.profile + "' of ~/.aws/credentials (AWS_PROFILE)");
    return std::move(rc.credentials);
}

}  // namespace dolibak::s3
