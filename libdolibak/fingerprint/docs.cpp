#include <dolibak/fingerprint/docs.hpp>

#include <dolibak/tarball/walk.hpp>

#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/hash.hpp>

#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace dolibak::fingerprint {

namespace {

char type_char(mode_t m) {
    if (S_ISDIR(m)) return 'd';
    if (S_ISLNK(m)) return 'l';
    if (S_ISREG(m)) return 'f';
    return 'o';
}

}  // namespace

DocsFingerprint docs_fingerprint(const std::filesystem::path& root, const DocsOptions& options) {
    try {
        const tarball::ExcludeMatcher excludes(options.excludes);
        DocsFingerprint fp;
        fp.content = options.content;
        io::Sha256 digest;
        digest.update(options.content ? std::string_view("dolibak docs fingerprint v1 content\n")
                                      : std::string_view("dolibak docs fingerprint v1\n"));
        std::vector<std::byte> buffer;
        if (options.content) buffer.resize(io::default_buffer_size);
        std::string record;
        tarball::WalkHandlers h;
        h.unreadable = [&](const std::string& path, const std::string& what, int err) {
            if (!options.skip_unreadable) throw IoError(what, path, err);
            ++fp.unreadable;
        };
        h.entry = [&](const tarball::WalkEntry& e) {
            const mode_t m = e.st.st_mode;
            const char t = type_char(m);
            io::UniqueFd fd;
            if (options.content && t == 'f') {
                fd.reset(tarball::open_for_reading(e.parent_fd, e.name));
                if (!fd) {
                    if (!options.skip_unreadable) throw IoError("cannot open", e.path, errno);
                    ++fp.unreadable;  // the writer leaves it out too
                    return;
                }
            }
            // Records are NUL-separated fields ending in a newline: no path contains a NUL.
            record.assign(e.path);
            record += '\0';
            record += t;
            record += '\0';
            if (t != 'd') {
                record += std::to_string(static_cast<std::int64_t>(e.st.st_size));
                record += '\0';
                record +=
                    std::to_string(static_cast<std::int64_t>(e.st.st_mtim.tv_sec) * 1000000000 +
                                   e.st.st_mtim.tv_nsec);
                record += '\0';
            }
            record += fmt::format("{:o}", m & 07777);
            record += '\0';
            record += e.link_target;
            if (options.content && t == 'f') {
                io::Sha256 file_digest;
                for (;;) {
                    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
                    if (n < 0) {
                        if (errno == EINTR) continue;
                        throw IoError("cannot read", e.path, errno);
                    }
                    if (n == 0) break;
                    file_digest.update(io::Bytes(buffer.data(), static_cast<std::size_t>(n)));
                }
                record += '\0';
                record += file_digest.hex();
            }
            record += '\n';
            digest.update(record);
            ++fp.entries;
            if (t == 'd') ++fp.directories;
            if (t == 'l') ++fp.symlinks;
            if (t == 'f') {
                ++fp.files;
                fp.bytes += static_cast<std::uint64_t>(e.st.st_size);
            }
        };
        tarball::walk(root, excludes, h);
        fp.sha256 = digest.hex();
        return fp;
    } catch (Error& e) {
        e.with_context(fmt::format("while fingerprinting {}", root.string()));
        throw;
    }
}

}  // namespace dolibak::fingerprint
