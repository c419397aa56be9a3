// AgeEncryptSink: writes the header, the nonce, then the payload one 64 KiB chunk at a time;
// a full chunk is sealed only when more data arrives, so the final chunk is never empty
// (unless the whole payload is).
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <cstring>

namespace dolibak::io {

using namespace age;

struct AgeEncryptSink::Impl {
    Sink& next;
    std::unique_ptr<Aead> aead;
    std::vector<unsigned char> plain = std::vector<unsigned char>(chunk_size);
    std::vector<unsigned char> sealed = std::vector<unsigned char>(chunk_size + tag_size);
    std::size_t fill = 0;
    std::uint64_t counter = 0;
    bool done = false;

    explicit Impl(Sink& n) : next(n) {}
    ~Impl() { wipe(plain.data(), plain.size()); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void seal(bool last) {
        unsigned char nonce[12];
        stream_nonce(counter, last, nonce);
        aead->seal(nonce, plain.data(), fill, sealed.data());
        next.write(Bytes(reinterpret_cast<const std::byte*>(sealed.data()), fill + tag_size));
        ++counter;
        fill = 0;
    }
};

AgeEncryptSink::AgeEncryptSink(Sink& next, const AgeRecipients& r)
    : impl_(std::make_unique<Impl>(next)) {
    if (r.passphrase && !r.x25519.empty())
        throw ConfigError(
            "age: a passphrase cannot be combined with X25519 recipients (an scrypt stanza "
            "must be alone)");
    if (!r.passphrase && r.x25519.empty())
        throw ConfigError("age: no recipient and no passphrase to encrypt to");
    std::vector<Key32> keys;
    for (const auto& text : r.x25519) {
        const auto key = decode_recipient(text);
        if (!key) (void)age_parse_recipient(text);  // throws, naming the recipient
        keys.push_back(*key);
    }
    FileKey file_key;
    random_bytes(file_key.data(), file_key.size());
    std::string header(version_line);
    header += '\n';
    if (r.passphrase) {
        header += encode_stanza(wrap_scrypt(file_key, *r.passphrase, r.scrypt_work_factor));
    } else {
        for (const auto& key : keys) header += encode_stanza(wrap_x25519(file_key, key));
    }
    header += "---";
    const std::string mac = header_mac(file_key, header);
    header += ' ';
    header += base64_unpadded(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
    header += '\n';
    unsigned char nonce[nonce_size];
    random_bytes(nonce, nonce_size);
    SymKey key;
    payload_key(file_key, nonce, key);
    impl_->aead = std::make_unique<Aead>(key);
    header.append(reinterpret_cast<const char*>(nonce), nonce_size);
    next.write(as_bytes(header));
}

AgeEncryptSink::~AgeEncryptSink() {
    if (!impl_->done) abort();
}

void AgeEncryptSink::write(Bytes data) {
    auto& m = *impl_;
    if (m.done) throw Error("age: write after finish or abort");
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t left = data.size();
    while (left > 0) {
        if (m.fill == chunk_size) m.seal(false);
        const std::size_t n = std::min(left, chunk_size - m.fill);
        std::memcpy(m.plain.data() + m.fill, p, n);
        m.fill += n;
        p += n;
        left -= n;
    }
}

void AgeEncryptSink::finish() {
    auto& m = *impl_;
    if (m.done) throw Error("age: finish after finish or abort");
    try {
        m.seal(true);
        m.done = true;
        m.next.finish();
    } catch (...) {
        m.done = true;
        m.next.abort();
        throw;
    }
}

void AgeEncryptSink::abort() noexcept {
    impl_->done = true;
    impl_->next.abort();
}

}  // namespace dolibak::io
