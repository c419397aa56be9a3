// Small texts sealed as whole age files in base64: the sensitive parts of a manifest.
#include "io/age_format.hpp"

#include <dolibak/io/age.hpp>

namespace dolibak::io {

std::string age_seal(std::string_view plaintext, const AgeRecipients& recipients) {
    MemorySink file;
    AgeEncryptSink sink(file, recipients);
    sink.write(as_bytes(plaintext));
    sink.finish();
    const std::string& bytes = file.data();
    return age::base64_unpadded(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string age_unseal(std::string_view sealed, const AgeIdentities& identities) {
    const auto bytes = age::base64_decode_canonical(sealed);
    if (!bytes) throw AgeError(AgeError::Kind::header, "a sealed text is not canonical base64");
    MemorySource file{std::string_view(*bytes)};
    AgeDecryptSource source(file, identities);
    std::string out;
    std::vector<std::byte> buf(default_buffer_size);
    for (std::size_t n; (n = source.read(buf)) > 0;)
        out.append(reinterpret_cast<const char*>(buf.data()), n);
    return out;
}

}  // namespace dolibak::io
