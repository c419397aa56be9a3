#include "s3/credential_sources.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/s3/credentials.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>

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
    const std::map<std::string, std::string>& all() const { return vars_; }

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

namespace {

// One profile as the two files give it. aws-cli merges them, the credentials file winning,
// but it reads static keys from the credentials file before credential_process and those of
// the config file after it: both maps are kept.
struct Profile {
    std::string name;
    const std::map<std::string, std::string>* cred = nullptr;
    const std::map<std::string, std::string>* conf = nullptr;

    bool exists() const { return cred || conf; }
    std::string get(const std::string& key) const {
        for (const auto* m : {cred, conf})
            if (m)
                if (auto it = m->find(key); it != m->end()) return it->second;
        return {};
    }
};

struct SharedFiles {
    std::filesystem::path cred_path, conf_path;
    std::map<std::string, std::map<std::string, std::string>> cred, conf;

    void load(const Env& env, const CredentialOptions& options) {
        cred_path = options.credentials_file.value_or("");
        if (cred_path.empty() && !env.get("AWS_SHARED_CREDENTIALS_FILE").empty())
            cred_path = env.get("AWS_SHARED_CREDENTIALS_FILE");
        if (cred_path.empty()) cred_path = home_dir(env) / ".aws" / "credentials";
        conf_path = options.config_file.value_or("");
        if (conf_path.empty() && !env.get("AWS_CONFIG_FILE").empty())
            conf_path = env.get("AWS_CONFIG_FILE");
        if (conf_path.empty()) conf_path = home_dir(env) / ".aws" / "config";
        if (const auto text = read_text(cred_path)) cred = parse_aws_ini(*text, cred_path.string());
        if (const auto text = read_text(conf_path)) {
            // [default], [profile NAME]; other sections (sso-session, services) are not profiles.
            for (auto& [section, keys] : parse_aws_ini(*text, conf_path.string())) {
                if (section.starts_with("profile ")) {
                    conf[trim(std::string_view(section).substr(8))] = keys;
                } else if (section == "default" && !conf.contains("default")) {
                    conf["default"] = keys;
                }
            }
        }
    }
    Profile profile(const std::string& name) const {
        Profile p;
        p.name = name;
        if (auto it = cred.find(name); it != cred.end()) p.cred = &it->second;
        if (auto it = conf.find(name); it != conf.end()) p.conf = &it->second;
        return p;
    }
};

std::string now_session_name() {
    return "dolibak-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
}

// A source that was found: its first credentials (when fetched) and how to renew them.
struct Found {
    Credentials first;
    CredentialProvider::Fetch fetch;  // empty: long-term keys
};

std::optional<Credentials> static_keys(const std::map<std::string, std::string>* section,
                                       const std::string& profile,
                                       const std::filesystem::path& path) {
    if (!section) return std::nullopt;
    const auto ak = section->find("aws_access_key_id");
    const auto sk = section->find("aws_secret_access_key");
    if (ak == section->end() || sk == section->end()) return std::nullopt;
    Credentials c;
    c.access_key_id = ak->second;
    c.secret_access_key = Secret(sk->second);
    if (auto t = section->find("aws_session_token"); t != section->end())
        c.session_token = Secret(t->second);
    c.source = "profile " + profile + " in " + path.string();
    return c;
}

class Chain {
public:
    Chain(const Env& env, const SharedFiles& files, StsTarget sts, bool run)
        : env_(env), files_(files), sts_(std::move(sts)), run_(run) {}

    std::vector<std::string> tried;

    // The sources of the top level, in aws-cli's order.
    std::optional<Found> top(const std::string& profile_name, bool explicit_profile) {
        const auto ak = env_.get("AWS_ACCESS_KEY_ID");
        const auto sk = env_.get("AWS_SECRET_ACCESS_KEY");
        if (!ak.empty() && !sk.empty()) {
            Found f;
            f.first.access_key_id = ak;
            f.first.secret_access_key = Secret(sk);
            f.first.session_token = Secret(env_.get("AWS_SESSION_TOKEN"));
            f.first.source = "environment (AWS_ACCESS_KEY_ID)";
            return f;
        }
        tried.push_back(std::string("environment: ") +
                        (ak.empty() ? "AWS_ACCESS_KEY_ID unset"
                                    : "AWS_ACCESS_KEY_ID set but AWS_SECRET_ACCESS_KEY unset"));
        const Profile p = files_.profile(profile_name);
        const std::string pq = "profile '" + profile_name + "'";
        if (!p.exists()) {
            if (explicit_profile)
                throw ConfigError("AWS profile '" + profile_name + "' is not in " +
                                  files_.cred_path.string() + " nor in " +
                                  files_.conf_path.string());
            tried.push_back(pq + ": not in " + files_.cred_path.string() + " nor in " +
                            files_.conf_path.string());
        }
        std::set<std::string> visited{profile_name};
        // role_arn with source_profile: AssumeRole. Without it, role_arn is web identity's
        // (a token file in the profile or in AWS_WEB_IDENTITY_TOKEN_FILE).
        if (p.exists() && !p.get("role_arn").empty() && p.get("web_identity_token_file").empty() &&
            (!p.get("source_profile").empty() || env_.get("AWS_WEB_IDENTITY_TOKEN_FILE").empty())) {
            if (p.get("source_profile").empty()) {
                if (!p.get("credential_source").empty())
                    throw ConfigError(pq + ": credential_source is not supported (only " +
                                      "source_profile, web_identity_token_file)");
                throw ConfigError(pq +
                                  ": role_arn needs source_profile or "
                                  "web_identity_token_file");
            }
            return assume_role(p, visited, 0);
        }
        if (auto f = web_identity(p.exists() ? &p : nullptr)) return f;
        if (p.exists()) {
            if (auto c = static_keys(p.cred, profile_name, files_.cred_path))
                return Found{std::move(*c), {}};
            if (const auto cmd = p.get("credential_process"); !cmd.empty())
                return process(cmd, profile_name);
            if (auto c = static_keys(p.conf, profile_name, files_.conf_path))
                return Found{std::move(*c), {}};
            tried.push_back(pq + ": no aws_access_key_id/aws_secret_access_key, " +
                            "credential_process, role_arn or web_identity_token_file");
        }
        return std::nullopt;
    }

private:
    const Env& env_;
    const SharedFiles& files_;
    StsTarget sts_;
    bool run_;

    // The env variable first, then the profile's key (botocore's order for web identity).
    std::string env_or_profile(const char* var, const Profile* p, const char* key) const {
        auto v = env_.get(var);
        if (v.empty() && p) v = p->get(key);
        return v;
    }

    std::optional<Found> web_identity(const Profile* p) {
        const std::string token_file =
            env_or_profile("AWS_WEB_IDENTITY_TOKEN_FILE", p, "web_identity_token_file");
        const std::string role = env_or_profile("AWS_ROLE_ARN", p, "role_arn");
        if (token_file.empty()) {
            tried.push_back("web identity: AWS_WEB_IDENTITY_TOKEN_FILE unset");
            return std::nullopt;
        }
        if (role.empty()) {
            tried.push_back("web identity: AWS_ROLE_ARN unset (token file " + token_file + ")");
            return std::nullopt;
        }
        AssumeRoleRequest req;
        req.role_arn = role;
        req.session_name = env_or_profile("AWS_ROLE_SESSION_NAME", p, "role_session_name");
        if (req.session_name.empty()) req.session_name = now_session_name();
        if (p) req.duration_seconds = duration_of(*p);
        req.profile = p ? p->name : std::string();
        const StsTarget sts = sts_;
        auto fetch = [sts, req, token_file]() {
            const auto text = read_text(token_file);
            if (!text)
                throw ConfigError("web identity: cannot read the token file " + token_file + ": " +
                                  errno_text(errno));
            std::string t = *text;
            while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
            const Secret token(trim(t));
            std::fill(t.begin(), t.end(), '\0');
            if (token.empty())
                throw ConfigError("web identity: the token file " + token_file + " is empty");
            auto c = sts_assume_role_with_web_identity(sts, req, token);
            c.source = "web identity (role " + req.role_arn + ", token file " + token_file + ")";
            return c;
        };
        return found_from(std::move(fetch));
    }

    std::optional<int> duration_of(const Profile& p) const {
        const auto d = p.get("duration_seconds");
        if (d.empty()) return std::nullopt;
        int n = 0;
        const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), n);
        if (ec != std::errc() || end != d.data() + d.size() || n < 900 || n > 43200)
            throw ConfigError("profile '" + p.name + "': duration_seconds must be 900 to 43200");
        return n;
    }

    Found process(const std::string& command, const std::string& profile) {
        const std::map<std::string, std::string> env = env_.all();
        auto fetch = [command, profile, env]() {
            return run_credential_process(command, profile, env);
        };
        return found_from(std::move(fetch));
    }

    Found found_from(CredentialProvider::Fetch fetch) {
        Found f;
        if (run_) f.first = fetch();
        f.fetch = std::move(fetch);
        return f;
    }

    // The credentials of a source profile (for an assume-role profile).
    Found source_credentials(const std::string& name, std::set<std::string>& visited, int depth,
                             const std::string& asked_by) {
        const Profile p = files_.profile(name);
        const std::string pq = "profile '" + name + "'";
        if (!p.exists())
            throw ConfigError("profile '" + asked_by + "': source_profile '" + name +
                              "' is not in " + files_.cred_path.string() + " nor in " +
                              files_.conf_path.string());
        const bool self = name == asked_by;
        if (!self && !p.get("role_arn").empty() && !p.get("source_profile").empty()) {
            if (visited.contains(name))
                throw ConfigError("profile '" + asked_by + "': source_profile loop through " + pq);
            visited.insert(name);
            return assume_role(p, visited, depth + 1);
        }
        if (auto c = static_keys(p.cred, name, files_.cred_path)) return Found{std::move(*c), {}};
        if (!self && !p.get("web_identity_token_file").empty() && !p.get("role_arn").empty()) {
            auto f = web_identity(&p);
            if (f) return std::move(*f);
        }
        if (const auto cmd = p.get("credential_process"); !cmd.empty()) return process(cmd, name);
        if (auto c = static_keys(p.conf, name, files_.conf_path)) return Found{std::move(*c), {}};
        throw ConfigError("profile '" + asked_by + "': source_profile '" + name +
                          "' has no credentials (static keys, credential_process, role_arn "
                          "or web_identity_token_file)");
    }

    Found assume_role(const Profile& p, std::set<std::string>& visited, int depth) {
        if (depth > 5) throw ConfigError("profile '" + p.name + "': more than 5 chained roles");
        auto source = source_credentials(p.get("source_profile"), visited, depth, p.name);
        AssumeRoleRequest req;
        req.role_arn = p.get("role_arn");
        req.session_name = p.get("role_session_name");
        if (req.session_name.empty()) req.session_name = now_session_name();
        req.external_id = p.get("external_id");
        req.duration_seconds = duration_of(p);
        req.profile = p.name;
        const StsTarget sts = sts_;
        if (!run_) return Found{{}, {}};
        auto provider =
            std::make_shared<CredentialProvider>(std::move(source.first), std::move(source.fetch));
        auto fetch = [sts, req, provider]() {
            auto c = sts_assume_role(sts, provider->current(), req);
            c.source = "profile " + req.profile + " (role " + req.role_arn + ")";
            return c;
        };
        return found_from(std::move(fetch));
    }
};

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += "; ";
        out += p;
    }
    return out;
}

ResolvedConfig resolve(const CredentialOptions& options, bool run) {
    const Env env(options.env);
    ResolvedConfig rc;
    SharedFiles files;
    const bool use_files = options.resolve_credentials;
    bool explicit_profile = false;
    if (use_files) {
        rc.profile = options.profile.value_or("");
        if (rc.profile.empty()) rc.profile = env.get("AWS_PROFILE");
        if (rc.profile.empty()) rc.profile = env.get("AWS_DEFAULT_PROFILE");
        explicit_profile = !rc.profile.empty();
        if (rc.profile.empty()) rc.profile = "default";
        files.load(env, options);
    }
    const Profile p = files.profile(rc.profile);
    auto from_profile = [&](std::initializer_list<const char*> keys) -> std::string {
        for (const char* k : keys)
            if (p.conf)
                if (auto it = p.conf->find(k); it != p.conf->end()) return it->second;
        return {};
    };
    rc.region = env.get("AWS_REGION");
    if (rc.region.empty()) rc.region = env.get("AWS_DEFAULT_REGION");
    if (rc.region.empty()) rc.region = from_profile({"region"});
    // aws-cli's precedence: the service's variable, AWS_ENDPOINT_URL, then the profile.
    rc.endpoint_url = env.get("AWS_ENDPOINT_URL_S3");
    if (rc.endpoint_url.empty()) rc.endpoint_url = env.get("AWS_ENDPOINT_URL");
    if (rc.endpoint_url.empty())
        rc.endpoint_url = from_profile({"s3.endpoint_url", "endpoint_url"});
    rc.sts_endpoint_url = env.get("AWS_ENDPOINT_URL_STS");
    if (rc.sts_endpoint_url.empty()) rc.sts_endpoint_url = env.get("AWS_ENDPOINT_URL");
    if (rc.sts_endpoint_url.empty())
        rc.sts_endpoint_url = from_profile({"sts.endpoint_url", "endpoint_url"});
    rc.addressing_style = from_profile({"s3.addressing_style"});
    rc.ca_bundle = env.get("AWS_CA_BUNDLE");
    if (rc.ca_bundle.empty()) rc.ca_bundle = from_profile({"ca_bundle"});
    if (!use_files) return rc;

    StsTarget sts;
    sts.endpoint = rc.sts_endpoint_url;
    sts.region = rc.region;
    sts.ca_bundle = rc.ca_bundle;
    Chain chain(env, files, sts, run);
    std::optional<Found> found;
    try {
        found = chain.top(rc.profile, explicit_profile);
    } catch (Error& e) {
        if (!chain.tried.empty())
            e.with_context("AWS credentials (tried " + joined(chain.tried) + ")");
        throw;
    }
    if (!found) {
        if (!run) return rc;
        throw ConfigError("no AWS credentials found: " + joined(chain.tried) +
                          ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile "
                          "(AWS_PROFILE) of ~/.aws/credentials or ~/.aws/config, or "
                          "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
    }
    rc.credentials = found->first;
    if (run)
        rc.provider =
            std::make_shared<CredentialProvider>(std::move(found->first), std::move(found->fetch));
    return rc;
}

}  // namespace

ResolvedConfig resolve_config(const CredentialOptions& options) {
    return resolve(options, true);
}

ResolvedConfig resolve_config_offline(const CredentialOptions& options) {
    return resolve(options, false);
}

Credentials resolve_credentials(const CredentialOptions& options) {
    auto rc = resolve_config(options);
    return std::move(rc.credentials);
}

// ---- the provider -------------------------------------------------------------------------

struct CredentialProvider::Impl {
    std::mutex mutex;
    Credentials current;
    Fetch fetch;
    Clock clock;
    std::chrono::system_clock::time_point obtained;
    std::chrono::system_clock::time_point next_try;  // after a failed renewal
    unsigned renewals = 0;

    bool due(std::chrono::system_clock::time_point now) const {
        if (!fetch || !current.expiration) return false;
        const auto life = *current.expiration - obtained;
        auto margin =
            std::min<std::chrono::system_clock::duration>(std::chrono::minutes(15), life / 4);
        if (margin < std::chrono::system_clock::duration::zero())
            margin = std::chrono::system_clock::duration::zero();
        return now >= *current.expiration - margin;
    }
};

// Without a fetch nothing is ever due: the credentials stay as they are.
CredentialProvider::CredentialProvider(Credentials fixed)
    : CredentialProvider(std::move(fixed), Fetch(), Clock()) {}

CredentialProvider::CredentialProvider(Credentials first, Fetch fetch, Clock clock)
    : impl_(std::make_unique<Impl>()) {
    impl_->current = std::move(first);
    impl_->fetch = std::move(fetch);
    impl_->clock = clock ? std::move(clock) : [] { return std::chrono::system_clock::now(); };
    impl_->obtained = impl_->clock();
}

CredentialProvider::~CredentialProvider() = default;

Credentials CredentialProvider::current() {
    if (!impl_->fetch) return impl_->current;  // never renewed, never written after construction
    std::lock_guard lock(impl_->mutex);
    const auto now = impl_->clock();
    if (impl_->due(now) && now >= impl_->next_try) {
        try {
            auto fresh = impl_->fetch();
            if (fresh.empty()) throw ConfigError("renewed AWS credentials are empty");
            impl_->current = std::move(fresh);
            impl_->obtained = now;
            ++impl_->renewals;
        } catch (Error& e) {
            if (now >= *impl_->current.expiration) {
                e.with_context("renewing the AWS credentials from " + impl_->current.source +
                               " (expired)");
                throw;
            }
            impl_->next_try = now + std::chrono::seconds(10);  // still valid: try again later
        }
    }
    return impl_->current;
}

unsigned CredentialProvider::renewals() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->renewals;
}

}  // namespace dolibak::s3
