#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/pack_names.hpp>

#include <fmt/format.h>

#include <vector>

namespace dolibak::packs {

namespace {

/// The digest a pack key names ("packs/<xx>/<64 hex>.pack[.age]"), or empty.
std::string named_digest(std::string_view key) {
    const auto slash = key.rfind('/');
    const auto dot = key.find(".pack", slash == std::string_view::npos ? 0 : slash);
    if (slash == std::string_view::npos || dot == std::string_view::npos) return {};
    const auto hex = key.substr(slash + 1, dot - slash - 1);
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
        return {};
    return std::string(hex);
}

}  // namespace

PackNamesCheck check_pack_names(store::Store& store, bool encrypted_only,
                                const std::shared_ptr<CancelToken>& cancel) {
    PackNamesCheck r;
    std::vector<std::byte> buf(io::default_buffer_size);
    for (const auto& o : store.list("packs/")) {
        const bool encrypted = is_encrypted_pack(o.key);
        if (!encrypted && !o.key.ends_with(".pack")) continue;  // not a pack (move records...)
        if (encrypted_only && !encrypted) continue;
        if (cancel) cancel->check("checking the packs against their names");
        const auto named = named_digest(o.key);
        if (named.empty()) {
            r.problems.push_back(o.key + ": not a pack name (no SHA-256 in it)");
            continue;
        }
        try {
            auto src = store.get(o.key);
            io::Sha256 sha;
            std::uint64_t bytes = 0;
            for (;;) {
                const auto n = src->read(buf);
                if (n == 0) break;
                sha.update(io::Bytes(buf.data(), n));
                bytes += n;
            }
            ++r.packs;
            r.bytes += bytes;
            const auto got = sha.hex();
            if (got != named)
                r.problems.push_back(fmt::format("{}: SHA-256 of its {} bytes is {}, not its name",
                                                 o.key, bytes, got));
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            r.problems.push_back(o.key + ": " + e.what());
        }
    }
    return r;
}

}  // namespace dolibak::packs
