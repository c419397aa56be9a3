#pragma once
// Private: docs_mode auto, how the next backup stores the documents (docs/packs.md, "Choosing
// the mode").
#include <dolibak/catalog/keys.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/store/store.hpp>

#include <optional>
#include <string>
#include <vector>

namespace dolibak::job::detail {

struct DocsModeChoice {
    bool packs = false;
    /// Why auto chose for a new store, for the run's log (empty when the mode was configured
    /// or follows the store's runs).
    std::string reason;
};

/// The kind of the newest documents object in `listing` (Store::list("docs/")): a packs
/// index or a tar archive, encrypted or not; nullopt when the store holds none.
std::optional<catalog::ObjectKind> newest_documents_kind(
    const std::vector<store::ObjectInfo>& listing);

/// The mode of the next run. tar and packs are taken as configured. automatic: the kind of
/// `newest` (a store keeps the mode it has); packs for a store without documents runs, but
/// tar when the run encrypts and no identity is given (packs read the previous encrypted
/// index, and prune every index: a store written without the identity could not go on).
DocsModeChoice choose_docs_mode(DocsMode configured, std::optional<catalog::ObjectKind> newest,
                                bool encrypting, bool has_identity);

}  // namespace dolibak::job::detail
