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

std::string Job::Impl::summary_of(const catalog::ManifestHalf& half) {
    if (half.archive_summary_sealed.empty()) return half.archive_summary_json;
    if (!has_identities()) return {};
    return io::age_unseal(half.archive_summary_sealed, identities("reading a sealed summary"));
}

}  // namespace dolibak::job
