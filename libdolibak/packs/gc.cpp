#include <dolibak/core/error.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>

#include "packs/blob.hpp"

#include <optional>
#include <set>

namespace dolibak::packs {

namespace {

bool is_pack_key(const std::string& key) {
    return key.starts_with("packs/") && (key.ends_with(".pack") || key.ends_with(".pack.age"));
}

bool is_index_key(const std::string& key) {
    return key.starts_with("docs/") &&
           (key.ends_with(".index.zst") || key.ends_with(".index.zst.age"));
}

}  // namespace

GcPlan plan_gc(const std::vector<store::ObjectInfo>& packs,
               const std::map<std::string, std::uint64_t>& live, double repack_below) {
    GcPlan plan;
    for (const auto& p : packs) {
        if (!is_pack_key(p.key)) continue;
        auto it = live.find(p.key);
        if (it == live.end()) {
            plan.remove.push_back(p.key);
            plan.bytes_removed += p.size;
            continue;
        }
        plan.bytes_kept += p.size;
        const auto used = std::min(it->second, p.size);
        if (p.size > 0 && static_cast<double>(used) < repack_below * static_cast<double>(p.size)) {
            plan.repack.push_back(p.key);
            plan.garbage_in_repack += p.size - used;
        }
    }
    return plan;
}

std::map<std::string, std::uint64_t> live_pack_bytes(store::Store& store,
                                                     const io::AgeIdentities* identities) {
    std::map<std::string, std::set<std::pair<std::uint64_t, std::uint64_t>>> frames;
    for (const auto& o : store.list("docs/")) {
        if (!is_index_key(o.key)) continue;
        try {
            // An encrypted index without an identity is an index that cannot be read.
            const io::AgeIdentities* ids =
                o.key.ends_with(".age") ? &detail::identities_for(identities, o.key) : nullptr;
            auto src = store.get(o.key);
            std::optional<io::AgeDecryptSource> plain;
            if (ids) plain.emplace(*src, *ids);
            IndexReader reader(plain ? static_cast<io::Source&>(*plain) : *src);
            while (auto e = reader.next())
                for (const auto& b : e->blobs) frames[b.pack].emplace(b.offset, b.length);
        } catch (Error& e) {
            e.with_context("reading the index " + o.key + " (no pack is deleted)");
            throw;
        }
    }
    std::map<std::string, std::uint64_t> live;
    for (const auto& [pack, set] : frames) {
        std::uint64_t sum = 0;
        for (const auto& f : set) sum += f.second;
        live.emplace(pack, sum);
    }
    return live;
}

GcResult collect_garbage(store::Store& store, bool dry_run, const io::AgeIdentities* identities) {
    GcResult result;
    // Packs are listed before the indexes are read: a pack that appears in between belongs
    // to a run that is not in this listing and is left alone.
    const auto packs = store.list("packs/");
    const auto live = live_pack_bytes(store, identities);
    for (const auto& o : store.list("docs/"))
        if (is_index_key(o.key)) ++result.indexes;
    result.plan = plan_gc(packs, live);
    if (!dry_run && !result.plan.remove.empty()) {
        result.failures = store.remove_many(result.plan.remove);
        std::set<std::string> failed;
        for (const auto& f : result.failures) failed.insert(f.key);
        for (const auto& k : result.plan.remove)
            if (!failed.contains(k)) result.removed.push_back(k);
    }
    return result;
}

}  // namespace dolibak::packs
