// libFuzzer target: an age file read by AgeDecryptSource (docs/encryption.md) must decrypt or
// be refused with a dolibak::Error (AgeError for a malformed header, a stanza no identity
// opens, a bad MAC or a tampered, truncated or extended payload), never crash, hang or throw
// anything else. The identities are fixed: the seed corpus (corpus_age_decrypt/) holds files
// encrypted to this test-only X25519 key and to the passphrase "fuzz" with a work factor of
// 10, so that mutations reach the payload past a valid header. Inputs are read through a
// source that hands out a few bytes at a time, as a store's stream may.
#include "fuzz_support.hpp"

#include <dolibak/io/age.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

namespace io = dolibak::io;

// A test-only key (its recipient: age17vkwh0nrqylkgl2phcwuyzut09hzae79htj0kysc7y4vuh6a25ysd3k7z9).
constexpr const char* identity =
    "AGE-SECRET-KEY-1ZP3QX0C0NGW8H8KWY9E9PDVEUWUVQ09J7HC2WJVS4LX2CKRQUKZS5SY8SN";

class Trickle final : public io::Source {
public:
    Trickle(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::size_t read(io::MutableBytes buf) override {
        // 1..7 bytes, then whole buffers: both the header's line parser and the chunk reader
        // see short reads.
        const std::size_t want = pos_ < 512 ? (pos_ % 7) + 1 : buf.size();
        const std::size_t n = std::min({want, buf.size(), size_ - pos_});
        for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<std::byte>(data_[pos_ + i]);
        pos_ += n;
        return n;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const io::AgeIdentities ids = [] {
        io::AgeIdentities i;
        i.x25519.emplace_back(identity);
        i.passphrase.emplace("fuzz");
        i.max_scrypt_work_factor = 12;  // a mutated work factor stays cheap
        return i;
    }();
    dolibak::fuzz::refused_or_accepted([&] {
        Trickle src(data, size);
        io::AgeDecryptSource plain(src, ids);
        std::vector<std::byte> buf(4096);
        while (plain.read(buf) > 0) {
        }
    });
    return 0;
}
