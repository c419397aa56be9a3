#pragma once
// Shared by the packs tests: one run of the packs writer straight into a store, as the job's
// documents driver makes it (the index under its final key, never replaced).
#include <dolibak/io/io.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/store/store.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace dolibak::test {

/// Backs up `root` as run `ts` of `store`, against run `previous_ts` (none if empty).
inline packs::WriterSummary write_packs_run(store::Store& store, const std::filesystem::path& root,
                                            const std::string& ts, const std::string& previous_ts,
                                            const packs::WriterOptions& options) {
    store::PutOptions po;
    po.no_overwrite = true;
    auto sink = store.put(packs::index_key(ts), po);
    std::unique_ptr<io::Source> prev;
    if (!previous_ts.empty()) prev = store.get(packs::index_key(previous_ts));
    return packs::write_tree(store, root, *sink, ts, prev.get(), options);
}

}  // namespace dolibak::test
