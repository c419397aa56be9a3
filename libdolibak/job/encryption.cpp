// The job's side of client-side encryption: the identities that open encrypted objects,
// read from their files only when an operation meets such an object, and the sealed parts
// of manifests (docs/encryption.md).
#include "job/job_impl.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace dolibak::job {

bool Job::Impl::has_identities() const {
    return !config.encryption.identity_files.empty() || !config.encryption.identities.empty();
}

io::AgeRecipients Job::Impl::recipients() const {
    io::AgeRecipients to;
    to.x25519 = config.encryption.recipients;
    return to;
}

const io::AgeIdentities& Job::Impl::identities(const std::string& what) {
    // The documents driver may ask while the database half runs in its own thread.
    std::lock_guard hold(identities_mutex);
    if (loaded_identities) return *loaded_identities;
    const auto& enc = config.encryption;
    if (!has_identities())
        throw ConfigError(what +
                          " needs an age identity: the object is encrypted; give the identity "
                          "file with the setting age_identity_file (--age-identity-file or "
                          "DOLIBAK_AGE_IDENTITY_FILE)");
    io::AgeIdentities ids;
    ids.x25519 = enc.identities;
    for (const auto& path : enc.identity_files) {
        const std::string where =
            "the age identity file " + path.string() +
            (enc.identity_source.empty() ? "" : " (" + enc.identity_source + ")");
        std::ifstream in(path, std::ios::binary);
        if (!in) throw ConfigError("cannot open " + where + ": " + errno_text(errno));
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
            warn("", where + " is readable by " +
                         ((st.st_mode & 007) ? "group and others" : "its group") +
                         ": it holds a private key (chmod 600)");
        std::ostringstream buf;
        buf << in.rdbuf();
        const Secret text(buf.str());
        try {
            for (auto& id : io::age_parse_identity_file(text.reveal()))
                ids.x25519.push_back(std::move(id));
        } catch (Error& e) {
            e.with_context("reading " + where);
            throw;
        }
    }
    loaded_identities = std::move(ids);
    return *loaded_identities;
}

void Job::Impl::check_packs_identity() {
    const auto& enc = config.encryption;
    if (!has_identities())
        throw ConfigError(
            "docs_mode packs with age_recipients needs an age identity: a backup reads the "
            "previous run's encrypted index (content already stored is not uploaded again) and "
            "prune reads every index (to keep the packs still in use); give the operational key "
            "with the setting age_identity_file (--age-identity-file or "
            "DOLIBAK_AGE_IDENTITY_FILE), its recipient among age_recipients "
            "(docs/encryption.md)");
    const auto& ids = identities("docs_mode packs with age_recipients");
    for (const auto& id : ids.x25519) {
        const auto r = io::age_recipient_of(id);
        for (const auto& to : enc.recipients)
            if (to == r) return;
    }
    throw ConfigError(
        "age_identity_file: none of its identities is the key of one of age_recipients, so the "
        "next docs_mode packs run could not read this run's index; add the identity's "
        "recipient (age-keygen -y) to age_recipients");
}

std::string Job::Impl::summary_of(const catalog::ManifestHalf& half) {
    if (half.archive_summary_sealed.empty()) return half.archive_summary_json;
    if (!has_identities()) return {};
    return io::age_unseal(half.archive_summary_sealed, identities("reading a sealed summary"));
}

}  // namespace dolibak::job
