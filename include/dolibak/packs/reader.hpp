#pragma once
// Restoring and verifying a packs-mode run (docs/packs.md).
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/tarball/extractor.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace dolibak::packs {

/// The run's tree as a POSIX pax tar stream, built from its index and packs as it is read:
/// every blob is checked (size and SHA-256) before its bytes are given out, and a mismatch
/// raises FormatError. Memory: one blob. `identities` open encrypted packs (".pack.age": only
/// the chunks holding each blob are fetched); without them such a pack raises ConfigError.
/// `index` is the index's plaintext (an encrypted index is decrypted by the caller).
DOLIBAK_API std::unique_ptr<io::Source> tar_stream(store::Store& store, io::Source& index,
                                                   const io::AgeIdentities* identities = nullptr);

/// Restores a run into `target` through the tar extractor (tarball::extract_tar: staged,
/// all-or-nothing, no path escapes, modes normalised): a blob that fails its check fails the
/// whole restore and leaves `target` untouched.
DOLIBAK_API tarball::ExtractSummary restore_tree(store::Store& store, io::Source& index,
                                                 const std::filesystem::path& target,
                                                 const tarball::ExtractOptions& options = {},
                                                 const io::AgeIdentities* identities = nullptr);

struct DOLIBAK_API VerifyResult {
    IndexTotals totals;
    std::uint64_t packs = 0;            ///< distinct packs the run references
    std::uint64_t blobs = 0;            ///< distinct blobs checked (full) or located (quick)
    std::uint64_t pack_bytes = 0;       ///< bytes of the packs read (full) or seen (quick)
    std::vector<std::string> problems;  ///< empty: the run is sound
};

/// Checks a run. Full: reads every pack the index references once, checks each pack's
/// SHA-256 against its name and every blob's size and SHA-256. Quick: every pack is present
/// and large enough for the frames the index places in it. A malformed index is a problem
/// too (the result then says so and stops). An encrypted pack's name is checked against the
/// digest of its stored (encrypted) bytes; full, it is then decrypted whole with `identities`
/// (every chunk authenticated) and its blobs checked; without identities that is a problem.
DOLIBAK_API VerifyResult verify_run(store::Store& store, io::Source& index, bool full,
                                    const io::AgeIdentities* identities = nullptr);

}  // namespace dolibak::packs
