#include <dolibak/core/secret.hpp>

#include <openssl/crypto.h>

namespace dolibak {

Secret::~Secret() {
    if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
}

std::string redact(std::string text, std::initializer_list<std::string_view> secrets) {
    for (auto secret : secrets) {
        if (secret.empty()) continue;
        for (auto pos = text.find(secret); pos != std::string::npos;
             pos = text.find(secret, pos + 3)) {
            text.replace(pos, secret.size(), "***");
        }
    }
    return text;
}

}  // namespace dolibak
