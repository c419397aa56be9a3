#pragma once
// Private: the real half drivers and the real Env (env.hpp), one file each.
#include <dolibak/job/env.hpp>
#include <dolibak/job/job.hpp>

#include <memory>

namespace dolibak::job::detail {

/// The profile's volatile tables plus the configured extra ones.
std::vector<std::string> volatile_tables(const Config& config);
/// The profile's document excludes plus the configured extra ones.
std::vector<std::string> document_excludes(const Config& config);

/// pg_dump / pg_restore over config.db (fingerprint and produce need it; restore does not).
std::unique_ptr<DatabaseDriver> make_real_database(const Config& config);
/// The tar writer, lister and safe extractor over config.docs (restore works without it);
/// with docs_mode packs, the packs writer over `store` (docs/packs.md). Restore and verify
/// follow the object's kind, whatever the mode: a store that switched keeps its history.
std::unique_ptr<DocumentsDriver> make_real_documents(const Config& config, store::Store& store);
/// pg_dumpall --globals-only over config.db.
std::unique_ptr<HalfDriver> make_real_globals(const Config& config);

}  // namespace dolibak::job::detail
