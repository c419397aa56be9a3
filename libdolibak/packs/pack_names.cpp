#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/pack_names.hpp>

#include <fmt/format.h>

namespace dolibak::packs {

PackNamesCheck check_pack_names(store::Store& store, bool encrypted_only,
                                const std::shared_ptr<CancelToken>& cancel) {
    PackNamesCheck r;
    for (const auto& o : store.list("packs/")) {
        const bool encrypted = is_encrypted_pack(o.key);
        if (!encrypted && !o.key.ends_with(".pack")) continue;  // not a pack (move records...)
        if (encrypted_only && !encrypted) continue;
        if (cancel) cancel->check("checking the packs against their names");
        try {
            auto src = store.get(o.key);
            io::Sha256 sha;
            io::NullSink null;
            io::ObservedSink seen(null, {&sha});
            const auto bytes = io::pump(*src, seen);
            ++r.packs;
            r.bytes += bytes;
            // As verify_run does: the name a pack of these bytes would have.
            if (pack_key(sha.hex(), encrypted) != o.key)
                r.problems.push_back(fmt::format("{}: SHA-256 of its {} bytes is {}, not its name",
                                                 o.key, bytes, sha.hex()));
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            r.problems.push_back(o.key + ": " + e.what());
        }
    }
    return r;
}

}  // namespace dolibak::packs
