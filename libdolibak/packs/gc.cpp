#include <dolibak/core/error.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>

#include "packs/blob.hpp"

#include <algorithm>
#include <optional>
#include <set>

namespace dolibak::packs {

namespace {

bool is_index_key(const std::string& key) {
    return key.starts_with("docs/") &&
           (key.ends_with(".index.zst") || key.ends_with(".index.zst.age"));
}

/// Removes `keys`, adding what went to `removed` and what did not to `failures`.
void remove_all(store::Store& store, const std::vector<std::string>& keys,
                std::vector<std::string>& removed, std::vector<store::RemoveFailure>& failures) {
    if (keys.empty()) return;
    auto failed = store.remove_many(keys);
    std::set<std::string> bad;
    for (const auto& f : failed) bad.insert(f.key);
    for (const auto& k : keys)
        if (!bad.contains(k)) removed.push_back(k);
    failures.insert(failures.end(), failed.begin(), failed.end());
}

}  // namespace

GcPlan plan_gc(const std::vector<store::ObjectInfo>& packs,
               const std::map<std::string, std::uint64_t>& live, double repack_below,
               const std::set<std::string>* needed_records) {
    GcPlan plan;
    for (const auto& p : packs) {
        if (is_moved_key(p.key)) {
            if (needed_records && !needed_records->contains(p.key))
                plan.records_remove.push_back(p.key);
            continue;
        }
        if (!is_pack_key(p.key)) continue;
        auto it = live.find(p.key);
        if (it == live.end()) {
            plan.remove.push_back(p.key);
            plan.bytes_removed += p.size;
            plan.sizes[p.key] = {p.size, 0};
            continue;
        }
        plan.bytes_kept += p.size;
        const auto used = std::min(it->second, p.size);
        if (p.size > 0 && static_cast<double>(used) < repack_below * static_cast<double>(p.size)) {
            plan.repack.push_back(p.key);
            plan.garbage_in_repack += p.size - used;
            plan.sizes[p.key] = {p.size, used};
        }
    }
    return plan;
}

std::map<std::string, std::uint64_t> LiveSet::bytes() const {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [pack, set] : frames) {
        std::uint64_t sum = 0;
        for (const auto& f : set) sum += f.second;
        out.emplace(pack, sum);
    }
    return out;
}

LiveSet live_set(store::Store& store, Relocations& moved, const io::AgeIdentities* identities,
                 const std::set<std::string>* left_out) {
    LiveSet live;
    std::vector<std::string> via;
    // A piece shared by several runs' trees (an unchanged directory) is read once.
    std::set<std::string> seen;
    auto keep = [&](BlobRef b) {
        via.clear();
        moved.follow(b, &via);
        for (const auto& p : via) live.records.insert(moved_key(p));
        live.frames[b.pack].emplace(b.offset, b.length);
    };
    for (const auto& o : store.list("docs/")) {
        if (!is_index_key(o.key) || (left_out && left_out->contains(o.key))) continue;
        try {
            // An encrypted index without an identity is an index that cannot be read.
            const io::AgeIdentities* ids =
                o.key.ends_with(".age") ? &detail::identities_for(identities, o.key) : nullptr;
            auto src = store.get(o.key);
            std::optional<io::AgeDecryptSource> plain;
            if (ids) plain.emplace(*src, *ids);
            TreeAccess tree;
            tree.store = &store;
            tree.identities = identities;
            tree.moved = &moved;
            tree.on_piece = keep;
            tree.seen = &seen;
            IndexReader reader(plain ? static_cast<io::Source&>(*plain) : *src, &tree);
            while (auto e = reader.next())
                for (auto& b : e->blobs) keep(b);
            ++live.indexes;
        } catch (Error& e) {
            e.with_context("reading the index " + o.key + " (no pack is deleted)");
            throw;
        }
    }
    return live;
}

std::map<std::string, std::uint64_t> live_pack_bytes(store::Store& store,
                                                     const io::AgeIdentities* identities) {
    Relocations moved(store, identities);
    return live_set(store, moved, identities).bytes();
}

GcResult collect_garbage(store::Store& store, const GcOptions& options) {
    GcResult result;
    // Packs and move records are listed before the indexes are read: a pack that appears in
    // between belongs to a run that is not in this listing and is left alone.
    const auto listing = store.list("packs/");
    std::set<std::string> records;
    for (const auto& o : listing)
        if (is_moved_key(o.key)) records.insert(o.key);
    Relocations moved(store, options.identities);
    moved.set_existing(records);
    const auto live = live_set(store, moved, options.identities, &options.deleted);
    result.indexes = live.indexes;
    result.plan = plan_gc(listing, live.bytes(), options.repack_below, &live.records);
    if (options.dry_run) return result;
    // Unreferenced packs first: a repack may write a pack of the same name (the same bytes)
    // as one of them, which must not be deleted after it.
    remove_all(store, result.plan.remove, result.removed, result.failures);
    for (const auto& k : result.removed) result.bytes_removed += result.plan.sizes[k].size;
    if (options.repack && !result.plan.repack.empty()) {
        RepackOptions ro;
        ro.pack_size = options.pack_size;
        ro.identities = options.identities;
        ro.encrypt_to = options.encrypt_to;
        result.repacked = repack(store, result.plan.repack, live.frames, moved, ro);
    }
    remove_all(store, result.plan.records_remove, result.records_removed, result.failures);
    return result;
}

GcResult collect_garbage(store::Store& store, bool dry_run, const io::AgeIdentities* identities) {
    GcOptions options;
    options.dry_run = dry_run;
    options.identities = identities;
    return collect_garbage(store, options);
}

}  // namespace dolibak::packs
