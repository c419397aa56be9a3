#include <dolibak/tarball/walk.hpp>

#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

namespace dolibak::tarball {
namespace {

struct DirCloser {
    void operator()(DIR* d) const noexcept { ::closedir(d); }
};

std::string join(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "/" + name;
}

// Reads the names of a directory (the descriptor stays open: fdopendir gets a duplicate).
bool read_names(int dir_fd, std::vector<std::string>& names, int& error) {
    const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        error = errno;
        return false;
    }
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dup_fd));
    if (!dir) {
        error = errno;
        ::close(dup_fd);
        return false;
    }
    for (;;) {
        errno = 0;
        const dirent* d = ::readdir(dir.get());
        if (d == nullptr) {
            if (errno != 0) {
                error = errno;
                return false;
            }
            break;
        }
        const std::string_view n = d->d_name;
        if (n == "." || n == "..") continue;
        names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());  // std::string compares bytes as unsigned char
    return true;
}

// Counts the non-directory entries and the regular files' bytes below a pruned directory (what
// the exclusion left out). Best effort: what cannot be read is not counted.
void count_pruned(int dir_fd, std::uint64_t& files, std::uint64_t& bytes, int depth) {
    std::vector<std::string> names;
    int error = 0;
    if (depth > 256 || !read_names(dir_fd, names, error)) return;
    for (const auto& name : names) {
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISDIR(st.st_mode)) {
            ++files;
            if (S_ISREG(st.st_mode)) bytes += static_cast<std::uint64_t>(st.st_size);
            continue;
        }
        io::UniqueFd sub(
            ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub) count_pruned(sub.get(), files, bytes, depth + 1);
    }
}

void walk_dir(int dir_fd, const std::string& rel, const ExcludeMatcher& excludes,
              const WalkHandlers& h) {
    std::vector<std::string> names;
    int error = 0;
    if (!read_names(dir_fd, names, error)) {
        h.unreadable(rel.empty() ? "." : rel, "cannot read directory", error);
        return;
    }
    WalkEntry e;
    e.parent_fd = dir_fd;
    for (auto& name : names) {
        e.path = join(rel, name);
        if (::fstatat(dir_fd, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                if (h.vanished) h.vanished(e.path, errno);
                continue;
            }
            h.unreadable(e.path, "cannot stat", errno);
            continue;
        }
        const bool is_dir = S_ISDIR(e.st.st_mode);
        if (const int pattern = excludes.match(e.path, is_dir); pattern >= 0) {
            if (h.excluded) {
                std::uint64_t files = 0, bytes = 0;
                if (!is_dir) {
                    files = 1;
                    if (S_ISREG(e.st.st_mode)) bytes = static_cast<std::uint64_t>(e.st.st_size);
                } else {
                    io::UniqueFd sub(::openat(dir_fd, name.c_str(),
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                    if (sub) count_pruned(sub.get(), files, bytes, 0);
                }
                h.excluded(e.path, pattern, files, bytes);
            }
            continue;
        }
        e.name = std::move(name);
        e.link_target.clear();
        if (S_ISLNK(e.st.st_mode)) {
            std::string buf(static_cast<std::size_t>(e.st.st_size > 0 ? e.st.st_size : 255) + 1,
                            '\0');
            for (;;) {
                const ssize_t n = ::readlinkat(dir_fd, e.name.c_str(), buf.data(), buf.size());
                if (n < 0) {
                    if (errno == ENOENT) {
                        if (h.vanished) h.vanished(e.path, errno);
                    } else {
                        h.unreadable(e.path, "cannot read symlink", errno);
                    }
                    buf.clear();
                    break;
                }
                if (static_cast<std::size_t>(n) < buf.size()) {
                    buf.resize(static_cast<std::size_t>(n));
                    break;
                }
                buf.resize(buf.size() * 2);
            }
            if (buf.empty()) continue;
            e.link_target = std::move(buf);
        }
        h.entry(e);
        if (is_dir) {
            io::UniqueFd sub(
                ::openat(dir_fd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) {
                if (errno == ENOENT) {
                    if (h.vanished) h.vanished(e.path, errno);
                } else {
                    h.unreadable(e.path, "cannot open directory", errno);
                }
                continue;
            }
            walk_dir(sub.get(), e.path, excludes, h);
        }
    }
}

}  // namespace

int open_for_reading(int parent_fd, const std::string& name) {
    const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = ::openat(parent_fd, name.c_str(), flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(parent_fd, name.c_str(), flags);  // not the owner
    return fd;
}

void walk(const std::filesystem::path& root, const ExcludeMatcher& excludes,
          const WalkHandlers& handlers) {
    // The root may itself be a symlink (a mounted volume): it is the only link followed.
    io::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw IoError("cannot open the documents directory", root.string(), errno);
    walk_dir(fd.get(), "", excludes, handlers);
}

}  // namespace dolibak::tarball
