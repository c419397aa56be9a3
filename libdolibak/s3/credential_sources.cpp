// The credential sources that run something: credential_process children and STS.
#include "s3/credential_sources.hpp"

#include "s3/answers.hpp"
#include "s3/transport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/process/process.hpp>
#include <dolibak/s3/signer.hpp>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>

namespace dolibak::s3 {

// ---- credential_process ---------------------------------------------------------------------

std::vector<std::string> split_command_line(std::string_view command) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    std::size_t i = 0;
    const auto n = command.size();
    while (i < n) {
        const char c = command[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            ++i;
        } else if (c == '\'') {
            const auto close = command.find('\'', i + 1);
            if (close == std::string_view::npos)
                throw ConfigError("credential_process: unterminated single quote");
            word.append(command.substr(i + 1, close - i - 1));
            in_word = true;
            i = close + 1;
        } else if (c == '"') {
            in_word = true;
            ++i;
            for (;;) {
                if (i >= n) throw ConfigError("credential_process: unterminated double quote");
                const char d = command[i];
                if (d == '"') {
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < n &&
                    (command[i + 1] == '\\' || command[i + 1] == '"' || command[i + 1] == '$' ||
                     command[i + 1] == '`' || command[i + 1] == '\n')) {
                    if (command[i + 1] != '\n') word += command[i + 1];
                    i += 2;
                    continue;
                }
                word += d;
                ++i;
            }
        } else if (c == '\\') {
            if (i + 1 >= n) throw ConfigError("credential_process: a trailing backslash");
            if (command[i + 1] != '\n') {
                word += command[i + 1];
                in_word = true;
            }
            i += 2;
        } else {
            word += c;
            in_word = true;
            ++i;
        }
    }
    if (in_word) words.push_back(std::move(word));
    if (words.empty()) throw ConfigError("credential_process is empty");
    return words;
}

std::chrono::system_clock::time_point parse_expiration(const std::string& text) {
    auto t = parse_iso8601(text);
    // An offset after the time of day ("+02:00", "-0500"); Z or nothing is UTC.
    const auto tpos = text.find('T');
    const auto sign =
        tpos == std::string::npos ? std::string::npos : text.find_first_of("+-", tpos);
    if (sign != std::string::npos) {
        std::string digits;
        for (char c : text.substr(sign + 1))
            if (c >= '0' && c <= '9') digits += c;
        if (digits.size() != 4) throw FormatError("not an ISO 8601 time: '" + text + "'");
        const int minutes = std::stoi(digits.substr(0, 2)) * 60 + std::stoi(digits.substr(2));
        t += std::chrono::minutes(text[sign] == '+' ? -minutes : minutes);
    }
    return t;
}

Credentials parse_process_credentials(const std::string& output, const std::string& profile) {
    const std::string who = "profile '" + profile + "': credential_process";
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(output);
    } catch (const nlohmann::json::exception&) {
        throw ConfigError(who +
                          " printed something that is not JSON (not shown: it may hold "
                          "secrets)");
    }
    if (!j.is_object()) throw ConfigError(who + " printed JSON that is not an object");
    auto text = [&](const char* name, bool required) -> std::string {
        const auto it = j.find(name);
        if (it == j.end() || it->is_null()) {
            if (required) throw ConfigError(who + ": its output has no " + name);
            return {};
        }
        if (!it->is_string())
            throw ConfigError(who + ": " + name + " in its output is not a string");
        return it->get<std::string>();
    };
    const auto version = j.find("Version");
    if (version == j.end() || !version->is_number_integer() || version->get<long long>() != 1)
        throw ConfigError(who + ": its output must have \"Version\": 1");
    Credentials c;
    c.access_key_id = text("AccessKeyId", true);
    c.secret_access_key = Secret(text("SecretAccessKey", true));
    c.session_token = Secret(text("SessionToken", false));
    const auto expiration = text("Expiration", false);
    if (!expiration.empty()) {
        try {
            c.expiration = parse_expiration(expiration);
        } catch (const FormatError&) {
            throw ConfigError(who + ": Expiration '" + expiration + "' is not an ISO 8601 time");
        }
    }
    if (c.empty()) throw ConfigError(who + ": empty AccessKeyId or SecretAccessKey");
    c.source = "profile " + profile + " (credential_process)";
    return c;
}

Credentials run_credential_process(const std::string& command, const std::string& profile,
                                   const std::map<std::string, std::string>& env,
                                   std::chrono::seconds timeout) {
    process::ProcessOptions po;
    po.argv = split_command_line(command);
    po.env_base = process::EnvBase::empty;
    for (const auto& [name, value] : env)
        if (process::is_minimal_environment_name(name) || name == "AWS_CONFIG_FILE" ||
            name == "AWS_SHARED_CREDENTIALS_FILE" || name == "AWS_REGION" ||
            name == "AWS_DEFAULT_REGION")
            po.env.emplace_back(name, value);
    if (!env.contains("PATH")) po.env.emplace_back("PATH", "/usr/local/bin:/usr/bin:/bin");
    po.in = process::Stdio::null;
    po.out = process::Stdio::pipe;
    po.err = process::Stdio::capture;
    po.stderr_tail_bytes = 2048;
    po.new_process_group = true;  // a timeout kills its children too
    const std::string who = "profile '" + profile + "': credential_process " + po.argv[0];
    process::RunResult r;
    bool timed_out = false;
    try {
        process::Process child(std::move(po));
        // A watchdog: a process that hangs (waiting for a prompt nobody answers) is killed.
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        std::thread watchdog([&] {
            std::unique_lock lock(m);
            if (!cv.wait_for(lock, timeout, [&] { return done; })) {
                timed_out = true;
                child.kill(SIGKILL);
            }
        });
        struct Stop {
            std::mutex& m;
            std::condition_variable& cv;
            bool& done;
            std::thread& t;
            ~Stop() {
                {
                    std::lock_guard lock(m);
                    done = true;
                }
                cv.notify_all();
                t.join();
            }
        } stop{m, cv, done, watchdog};
        try {
            r.out = io::read_all(child.out(), 1024 * 1024);
        } catch (...) {
            child.kill(SIGKILL);
            throw;
        }
        r.status = child.wait();
        r.err = child.stderr_tail();
    } catch (Error& e) {
        e.with_context(who);
        throw;
    }
    if (timed_out)
        throw ConfigError(who + " did not finish within " + std::to_string(timeout.count()) +
                          " s and was killed");
    if (!r.status.success()) {
        // Its stdout may hold secrets: never shown. The end of stderr helps (aws-cli shows it).
        std::string err = r.err;
        while (!err.empty() && (err.back() == '\n' || err.back() == '\r' || err.back() == ' '))
            err.pop_back();
        if (const auto nl = err.rfind('\n'); nl != std::string::npos) err = err.substr(nl + 1);
        if (err.size() > 300) err = "..." + err.substr(err.size() - 300);
        throw ConfigError(who + " " + r.status.describe() +
                          (err.empty() ? std::string() : " (stderr: " + err + ")"));
    }
    return parse_process_credentials(r.out, profile);
}

// ---- STS ----------------------------------------------------------------------------------

namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* p) {
    auto* out = static_cast<std::string*>(p);
    if (out->size() + size * n > 1024 * 1024) return 0;
    out->append(data, size * n);
    return size * n;
}

std::string form(const QueryList& fields) {
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        out += uri_encode(k) + "=" + uri_encode(v);
    }
    return out;
}

// One STS call with a few retries for network errors, throttling and 5xx.
Credentials call_sts(const StsTarget& sts, const std::string& action, const QueryList& fields,
                     const Credentials* signer, const AssumeRoleRequest& request,
                     std::initializer_list<std::string_view> secrets) {
    ensure_curl_initialized();
    const std::string region =
        sts.region.empty() || sts.region == "auto" ? std::string("us-east-1") : sts.region;
    const std::string url =
        sts.endpoint.empty() ? "https://sts." + region + ".amazonaws.com" : sts.endpoint;
    const Endpoint ep = parse_endpoint(url);
    const std::string host = ep.port.empty() ? ep.host : ep.host + ":" + ep.port;
    const std::string body = form(fields);
    const std::string what =
        "STS " + action + " for role " + request.role_arn +
        (request.profile.empty() ? "" : " (profile '" + request.profile + "')");
    const std::string target = ep.scheme + "://" + host + "/";
    for (int attempt = 1;; ++attempt) {
        std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
        if (!curl) throw Error("cannot create a libcurl handle");
        std::unique_ptr<curl_slist, SlistDeleter> headers;
        auto add = [&](const std::string& line) {
            curl_slist* s = curl_slist_append(headers.get(), line.c_str());
            if (!s) throw std::bad_alloc();
            (void)headers.release();
            headers.reset(s);
        };
        const std::string ctype = "application/x-www-form-urlencoded; charset=utf-8";
        add("Content-Type: " + ctype);
        add("Accept:");
        add("Expect:");
        if (signer) {
            SigningRequest sr;
            sr.method = "POST";
            sr.path = "/";
            sr.headers = {{"host", host}, {"content-type", ctype}};
            sr.payload_sha256 = io::sha256_hex(body);
            sr.region = region;
            sr.service = "sts";
            sr.time = std::chrono::system_clock::now();
            for (const auto& [n, v] : sign(sr, *signer).headers) add(n + ": " + v);
        }
        std::string answer;
        char errbuf[CURL_ERROR_SIZE] = {0};
        CURL* c = curl.get();
        curl_easy_setopt(c, CURLOPT_URL, target.c_str());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, ("dolibak/" + std::string(version())).c_str());
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, sts.verify_tls ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, sts.verify_tls ? 2L : 0L);
        if (!sts.ca_bundle.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, sts.ca_bundle.c_str());
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
        const CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        bool retry = false;
        std::string failure;
        RemoteError::Details d;
        if (rc != CURLE_OK) {
            failure = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
            retry = true;
            d.retryable = true;
        } else if (status == 200) {
            auto creds = parse_sts_credentials(answer, action);
            return creds;
        } else {
            const auto e = parse_sts_error(answer);
            d.http_status = static_cast<int>(status);
            d.code = e.code;
            d.message = redact(e.message, secrets);
            d.request_id = e.request_id;
            retry = status >= 500 || status == 429 || e.code == "Throttling" ||
                    e.code == "IDPCommunicationError";
            d.retryable = retry;
            failure = "HTTP " + std::to_string(status) + (e.code.empty() ? "" : " " + e.code) +
                      (d.message.empty() ? "" : ": " + d.message) +
                      (e.request_id.empty() ? "" : " [request id " + e.request_id + "]");
        }
        if (!retry || attempt >= 3) {
            d.message = failure;
            throw RemoteError(redact(what + " at " + target + ": " + failure, secrets), d);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
}

QueryList common_fields(const std::string& action, const AssumeRoleRequest& r) {
    QueryList q{{"Action", action},
                {"Version", "2011-06-15"},
                {"RoleArn", r.role_arn},
                {"RoleSessionName", r.session_name}};
    if (r.duration_seconds) q.emplace_back("DurationSeconds", std::to_string(*r.duration_seconds));
    return q;
}

}  // namespace

Credentials sts_assume_role(const StsTarget& sts, const Credentials& source,
                            const AssumeRoleRequest& request) {
    auto q = common_fields("AssumeRole", request);
    if (!request.external_id.empty()) q.emplace_back("ExternalId", request.external_id);
    return call_sts(sts, "AssumeRole", q, &source, request,
                    {source.secret_access_key.reveal(), source.session_token.reveal()});
}

Credentials sts_assume_role_with_web_identity(const StsTarget& sts,
                                              const AssumeRoleRequest& request,
                                              const Secret& token) {
    auto q = common_fields("AssumeRoleWithWebIdentity", request);
    q.emplace_back("WebIdentityToken", token.reveal());
    return call_sts(sts, "AssumeRoleWithWebIdentity", q, nullptr, request, {token.reveal()});
}

}  // namespace dolibak::s3
