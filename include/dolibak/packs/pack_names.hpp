#pragma once
// A pack is named by the SHA-256 of its stored bytes (docs/packs.md): every pack can be
// checked against its name without reading any index, hence without the identity of an
// encrypted store.
#include <dolibak/core/cancel.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dolibak::packs {

struct DOLIBAK_API PackNamesCheck {
    std::uint64_t packs = 0;            ///< packs read
    std::uint64_t bytes = 0;            ///< their bytes
    std::vector<std::string> problems;  ///< one per pack whose bytes do not match its name
};

/// Reads every pack under `packs/` (only the encrypted ones, `.pack.age`, with
/// `encrypted_only`) and compares the SHA-256 of its bytes with the digest its key names.
/// A pack that cannot be read is a problem too. Store listing failures are thrown.
DOLIBAK_API PackNamesCheck check_pack_names(store::Store& store, bool encrypted_only,
                                            const std::shared_ptr<CancelToken>& cancel = {});

}  // namespace dolibak::packs
