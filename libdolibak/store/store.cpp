#include "store/backends.hpp"

#include <dolibak/io/file_io.hpp>
#include <dolibak/s3/signer.hpp>

namespace dolibak::store {

ObjectNotFound::ObjectNotFound(const std::string& store_url, std::string key)
    : Error("no object '" + key + "' in " + store_url), key_(std::move(key)) {}

AlreadyExists::AlreadyExists(const std::string& store_url, std::string key,
                             const std::string& detail)
    : Error("object '" + key + "' already exists in " + store_url + " (no overwrite asked)" +
            (detail.empty() ? "" : ": " + detail)),
      key_(std::move(key)) {}

PreconditionFailed::PreconditionFailed(const std::string& store_url, std::string key,
                                       const std::string& detail)
    : Error("object '" + key + "' in " + store_url +
            " is no longer the expected version (or is gone)" +
            (detail.empty() ? "" : ": " + detail)),
      key_(std::move(key)) {}

void validate_key(std::string_view key) {
    auto bad = [&](const std::string& why) {
        throw ConfigError("invalid store key '" + std::string(key) + "': " + why);
    };
    if (key.empty()) bad("empty");
    if (key.size() > 1024) bad("longer than 1024 bytes");
    if (key.front() == '/') bad("must be relative");
    for (char c : key)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad("control character");
    std::size_t pos = 0;
    bool first = true;
    while (pos <= key.size()) {
        auto slash = key.find('/', pos);
        if (slash == std::string_view::npos) slash = key.size();
        const auto seg = key.substr(pos, slash - pos);
        if (seg.empty()) bad("empty path segment");
        if (seg == "." || seg == "..") bad("'.' or '..' segment");
        if (first && seg == reserved_dir) bad("'" + std::string(reserved_dir) + "' is reserved");
        first = false;
        pos = slash + 1;
    }
}

void check_put_options(const std::string& key, const PutOptions& options) {
    if (options.no_overwrite && !options.if_match.empty())
        throw ConfigError("put of '" + key + "': no_overwrite and if_match exclude each other");
}

std::vector<RemoveFailure> Store::remove_many(const std::vector<std::string>& keys) {
    std::vector<RemoveFailure> failures;
    for (const auto& k : keys) {
        try {
            remove(k);
        } catch (const Error& e) {
            failures.push_back({k, e.what()});
        }
    }
    return failures;
}

std::uint64_t Store::get_to(const std::string& key, io::Sink& out, const GetOptions& options) {
    auto src = get(key, options);
    return io::pump(*src, out);
}

std::string Store::put_bytes(const std::string& key, std::string_view data,
                             const PutOptions& options) {
    auto o = options;
    if (!o.size_hint) o.size_hint = data.size();
    auto sink = put(key, o);
    try {
        sink->write(io::as_bytes(data));
        sink->finish();
    } catch (...) {
        sink->abort();
        throw;
    }
    return sink->etag();
}

std::string Store::get_bytes(const std::string& key, std::size_t max_bytes) {
    auto src = get(key);
    return io::read_all(*src, max_bytes);
}

void Store::put_file(const std::string& key, const std::filesystem::path& path,
                     const PutOptions& options) {
    auto o = options;
    std::error_code ec;
    if (!o.size_hint) {
        const auto size = std::filesystem::file_size(path, ec);
        if (!ec) o.size_hint = size;
    }
    io::FileSource src(path);
    auto sink = put(key, o);
    try {
        io::pump(src, *sink, 1024 * 1024);
        sink->finish();
    } catch (...) {
        sink->abort();
        throw;
    }
}

std::uint64_t Store::get_file(const std::string& key, const std::filesystem::path& path) {
    io::AtomicFileSink out(path);
    const auto n = get_to(key, out);
    out.finish();
    return n;
}

std::unique_ptr<Store> open(const std::string& url, const StoreOptions& options) {
    if (url.starts_with("s3://")) {
        const auto rest = url.substr(5);
        const auto slash = rest.find('/');
        const std::string bucket = rest.substr(0, slash);
        std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
        if (bucket.empty()) throw ConfigError("S3 URL without a bucket: '" + url + "'");
        if (bucket.find_first_of("?#") != std::string::npos ||
            prefix.find_first_of("?#") != std::string::npos)
            throw ConfigError("S3 URL must be s3://bucket/prefix (no query): '" + url + "'");
        while (prefix.starts_with('/')) prefix.erase(0, 1);
        if (!prefix.empty() && !prefix.ends_with('/')) prefix += '/';
        if (!prefix.empty()) validate_key(prefix.substr(0, prefix.size() - 1));
        s3::ClientOptions copts = options.s3;
        std::shared_ptr<s3::CredentialProvider> provider;
        if (options.use_environment) {
            // Explicit credentials win: the AWS chain (AWS_PROFILE, ~/.aws) is not consulted.
            auto cfg = s3::client_config_from_environment(options.credential_sources, copts,
                                                          !options.credentials.has_value());
            copts = std::move(cfg.options);
            provider = std::move(cfg.provider);
        }
        if (options.credentials) {
            if (options.credentials->empty()) throw ConfigError("no S3 credentials for " + url);
            provider = std::make_shared<s3::CredentialProvider>(*options.credentials);
        }
        if (!provider) throw ConfigError("no S3 credentials for " + url);
        auto client = std::make_shared<s3::Client>(std::move(copts), std::move(provider));
        return make_s3_store(std::move(client), bucket, prefix);
    }
    std::string path;
    if (url.starts_with("file://")) {
        auto rest = url.substr(7);
        if (rest.starts_with("localhost/")) rest = rest.substr(9);
        if (!rest.starts_with('/'))
            throw ConfigError("file URL must be file:///absolute/path: '" + url + "'");
        path = s3::uri_decode(rest);
    } else if (url.starts_with('/')) {
        path = url;
    } else {
        throw ConfigError("store URL must be s3://bucket/prefix or file:///dir: '" + url + "'");
    }
    return make_file_store(path, options.create_directory);
}

}  // namespace dolibak::store
