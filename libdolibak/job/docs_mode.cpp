// docs_mode auto (docs/packs.md, "Choosing the mode").
#include "job/docs_mode.hpp"

#include "job/job_impl.hpp"

namespace dolibak::job::detail {

std::optional<catalog::ObjectKind> newest_documents_kind(
    const std::vector<store::ObjectInfo>& listing) {
    std::optional<catalog::StoreKey> newest;
    for (const auto& o : listing) {
        auto k = catalog::parse_store_key(o.key);
        if (!k || k->half != "docs" || !catalog::is_backup_object(k->kind)) continue;
        if (!newest || k->time > newest->time) newest = std::move(k);
    }
    if (!newest) return std::nullopt;
    return newest->kind;
}

DocsModeChoice choose_docs_mode(DocsMode configured, std::optional<catalog::ObjectKind> newest,
                                bool encrypting, bool has_identity) {
    if (configured == DocsMode::tar) return {false, {}};
    if (configured == DocsMode::packs) return {true, {}};
    if (newest) return {*newest == catalog::ObjectKind::docs_index, {}};
    if (encrypting && !has_identity)
        return {false,
                "docs_mode auto: a new store, but tar archives: the runs are encrypted and no "
                "age_identity_file is given (packs need it to read the previous run's index)"};
    return {true, "docs_mode auto: a new store, so the documents go in packs"};
}

}  // namespace dolibak::job::detail

namespace dolibak::job {

bool Job::Impl::choose_docs_mode(bool log) {
    if (!config.docs) return false;
    std::optional<catalog::ObjectKind> newest;
    if (config.docs->mode == DocsMode::automatic)
        newest = detail::newest_documents_kind(store().list("docs/"));
    const auto choice = detail::choose_docs_mode(config.docs->mode, newest,
                                                 config.encryption.enabled(), has_identities());
    if (auto* d = env->documents()) d->use_packs(choice.packs);
    // A new store's first run says how auto chose; later runs follow the store quietly.
    if (log && !choice.reason.empty()) info("docs", choice.reason);
    return choice.packs;
}

}  // namespace dolibak::job
