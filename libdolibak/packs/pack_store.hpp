#pragma once
// Publishing a pack (layer-private): named by the SHA-256 of its stored bytes, sealed first
// in an encrypted store, and put without replacing. The writer and the repacker both do it.
#include <dolibak/io/age.hpp>
#include <dolibak/store/store.hpp>

#include <string>
#include <string_view>

namespace dolibak::packs::detail {

/// The key of `pack` once stored. Encrypted (`to` set), the pack is sealed into `sealed`
/// (cleared first; its allocation serves every pack of a run) and the key names the
/// ciphertext; plain, it names `pack` itself. The bytes to store are then `to ? sealed : pack`.
std::string seal_and_name(std::string_view pack, const io::AgeRecipients* to, std::string& sealed);

/// Stores `bytes` under `key`, never replacing: an object of that name, named by its content,
/// holds the same bytes (a pack of an interrupted run, or the same bytes again).
void put_pack(store::Store& store, const std::string& key, std::string_view bytes);

}  // namespace dolibak::packs::detail
