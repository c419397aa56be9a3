#include "packs/pack_store.hpp"

#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>

namespace dolibak::packs::detail {

namespace {

/// Appends to a string it does not own.
class AppendSink final : public io::Sink {
public:
    explicit AppendSink(std::string& out) : out_(out) {}
    void write(io::Bytes data) override {
        out_.append(reinterpret_cast<const char*>(data.data()), data.size());
    }
    void finish() override {}
    void abort() noexcept override {}

private:
    std::string& out_;
};

}  // namespace

std::string seal_and_name(std::string_view pack, const io::AgeRecipients* to, std::string& sealed) {
    if (!to) return pack_key(io::sha256_hex(pack));
    // Sized for the header and the 16-byte tag of each 64 KiB chunk.
    sealed.clear();
    sealed.reserve(pack.size() + pack.size() / 4096 + 4096);
    AppendSink out(sealed);
    io::Sha256 digest;  // of the sealed bytes, each chunk hashed as it is sealed
    io::AgeEncryptSink age(out, *to, {&digest});
    age.write(io::as_bytes(pack));
    age.finish();
    return pack_key(digest.hex(), true);
}

void put_pack(store::Store& store, const std::string& key, std::string_view bytes) {
    store::PutOptions po;
    po.size_hint = bytes.size();
    po.no_overwrite = true;
    try {
        auto sink = store.put(key, po);
        sink->write(io::as_bytes(bytes));
        sink->finish();
    } catch (const store::AlreadyExists&) {
        // Same name, same content.
    }
}

}  // namespace dolibak::packs::detail
