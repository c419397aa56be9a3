#include <dolibak/tarball/extractor.hpp>

#include "tarball/reader.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/file_io.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <unordered_set>
#include <vector>

namespace dolibak::tarball {

namespace {

constexpr std::size_t max_path = 4096;
constexpr std::size_t max_component = 255;

using Components = std::vector<std::string>;

std::string joined(const Components& c, std::size_t begin = 0,
                   std::size_t end = std::string::npos) {
    std::string s;
    end = std::min(end, c.size());
    for (std::size_t i = begin; i < end; ++i) {
        if (!s.empty()) s += '/';
        s += c[i];
    }
    return s;
}

[[noreturn]] void refuse(const std::string& name, const std::string& why) {
    throw FormatError(fmt::format("refusing archive entry '{}': {}",
                                  name.substr(0, 200) + (name.size() > 200 ? "..." : ""), why));
}

// Splits a stored name into components, refusing what could land outside the target.
Components split_name(const std::string& name, const char* what) {
    if (name.empty()) refuse(name, fmt::format("empty {}", what));
    if (name.size() > max_path)
        refuse(name, fmt::format("{} longer than {} bytes", what, max_path));
    if (name.front() == '/') refuse(name, fmt::format("absolute {}", what));
    Components out;
    std::size_t pos = 0;
    while (pos <= name.size()) {
        const std::size_t slash = std::min(name.find('/', pos), name.size());
        std::string c = name.substr(pos, slash - pos);
        pos = slash + 1;
        if (c.empty() || c == ".") continue;
        if (c == "..") refuse(name, fmt::format("'..' component in the {}", what));
        if (c.size() > max_component)
            refuse(name, fmt::format("a component of the {} is longer than {} bytes", what,
                                     max_component));
        out.push_back(std::move(c));
    }
    return out;
}

// A symlink target is accepted only as leading ".." components that stay within the target,
// then plain names: resolving it then never leaves the target, whatever other links exist.
void check_symlink_target(const std::string& name, std::size_t link_depth,
                          const std::string& target) {
    if (target.empty()) refuse(name, "empty symlink target");
    if (target.front() == '/')
        refuse(name, fmt::format("symlink to the absolute path '{}'", target));
    if (target.size() > max_path) refuse(name, "symlink target too long");
    std::size_t ups = 0;
    bool names_seen = false;
    std::size_t pos = 0;
    while (pos <= target.size()) {
        const std::size_t slash = std::min(target.find('/', pos), target.size());
        const std::string c = target.substr(pos, slash - pos);
        pos = slash + 1;
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (names_seen)
                refuse(name, fmt::format("symlink target '{}' has '..' after a name", target));
            ++ups;
            if (ups > link_depth)
                refuse(name, fmt::format("symlink to '{}' points outside the target", target));
        } else {
            names_seen = true;
        }
    }
}

// Removes a tree below dir_fd (not following links), making directories writable first.
void remove_children(int dir_fd, const std::string& where) {
    const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) throw IoError("cannot duplicate a descriptor", where, errno);
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup_fd), &::closedir);
    if (!dir) {
        ::close(dup_fd);
        throw IoError("cannot read directory", where, errno);
    }
    std::vector<std::string> names;
    while (const dirent* d = ::readdir(dir.get())) {
        const std::string_view n = d->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    for (const auto& n : names) {
        struct stat st {};
        if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if ((st.st_mode & 0700) != 0700) ::fchmodat(dir_fd, n.c_str(), 0700, 0);
            io::UniqueFd sub(
                ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw IoError("cannot open directory", where + "/" + n, errno);
            remove_children(sub.get(), where + "/" + n);
            if (::unlinkat(dir_fd, n.c_str(), AT_REMOVEDIR) != 0)
                throw IoError("cannot remove directory", where + "/" + n, errno);
        } else if (::unlinkat(dir_fd, n.c_str(), 0) != 0 && errno != ENOENT) {
            throw IoError("cannot remove", where + "/" + n, errno);
        }
    }
}

struct DirFixup {
    Components path;
    unsigned mode;
    timespec mtime;
    bool has_mtime;
};

class Extractor {
public:
    Extractor(int root_fd, const ExtractOptions& options) : root_fd_(root_fd), options_(options) {
        subtree_ =
            split_name(options.subtree.empty() ? std::string(".") : options.subtree, "subtree");
    }

    ExtractSummary run(io::Source& source) {
        detail::SourceReader reader(source);
        archive_entry* ae = nullptr;
        while (reader.next(&ae)) {
            ++summary_.entries;
            const char* raw = archive_entry_pathname(ae);
            const std::string name = raw != nullptr ? raw : "";
            const auto type = detail::entry_type(ae);
            auto path = map(name, "name");
            if (!path) {
                ++summary_.skipped;
                continue;
            }
            if (path->empty()) {  // the root itself ("./" or the subtree folder)
                if (type != EntryType::directory)
                    refuse(name, "the target root is not a directory");
                remember_dir(*path, ae);
                continue;
            }
            switch (type) {
                case EntryType::directory:
                    make_dir(name, *path, ae);
                    break;
                case EntryType::file:
                    make_file(name, *path, ae, reader);
                    break;
                case EntryType::symlink:
                    make_symlink(name, *path, ae);
                    break;
                case EntryType::hardlink:
                    make_hardlink(name, *path, ae);
                    break;
                case EntryType::character_device:
                case EntryType::block_device:
                    refuse(name, "device node");
                case EntryType::fifo:
                    refuse(name, "FIFO");
                case EntryType::socket:
                    refuse(name, "socket");
                case EntryType::other:
                    refuse(name, "unsupported entry type");
            }
        }
        reader.finish();
        finish_dirs();
        if (summary_.modes_normalised > max_mode_warnings && options_.on_warning)
            options_.on_warning(fmt::format("{} more entries had their mode normalised",
                                            summary_.modes_normalised - max_mode_warnings));
        return summary_;
    }

private:
    // Applies strip_components and the subtree; nullopt when the entry is not extracted.
    std::optional<Components> map(const std::string& name, const char* what) {
        Components c = split_name(name, what);
        if (options_.strip_components > 0) {
            if (c.size() <= options_.strip_components) return std::nullopt;
            c.erase(c.begin(), c.begin() + options_.strip_components);
        }
        if (c.size() < subtree_.size() || !std::equal(subtree_.begin(), subtree_.end(), c.begin()))
            return std::nullopt;
        c.erase(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(subtree_.size()));
        return c;
    }

    // Opens the parent directory of `path`, creating missing directories, never through a link.
    int parent_fd(const std::string& name, const Components& path) {
        const std::size_t depth = path.size() - 1;
        std::size_t common = 0;
        while (common < depth && common < open_path_.size() && open_path_[common] == path[common])
            ++common;
        open_path_.resize(common);
        open_fds_.resize(common);
        for (std::size_t i = common; i < depth; ++i) {
            const int at = i == 0 ? root_fd_ : open_fds_[i - 1].get();
            io::UniqueFd fd(
                ::openat(at, path[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd && errno == ENOENT) {
                if (::mkdirat(at, path[i].c_str(), 0700) != 0)
                    throw IoError("cannot create directory", joined(path, 0, i + 1), errno);
                fd.reset(
                    ::openat(at, path[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                Components implied(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(i + 1));
                dirs_.push_back({std::move(implied), 0755, {}, false});
            }
            if (!fd) {
                if (errno == ELOOP || errno == ENOTDIR)
                    refuse(
                        name,
                        fmt::format(
                            "'{}' is a symlink or not a directory: nothing is written through it",
                            joined(path, 0, i + 1)));
                throw IoError("cannot open directory", joined(path, 0, i + 1), errno);
            }
            open_path_.push_back(path[i]);
            open_fds_.push_back(std::move(fd));
        }
        return depth == 0 ? root_fd_ : open_fds_[depth - 1].get();
    }

    // Makes room for a new non-directory entry (a later entry replaces an earlier one). What
    // was there is no longer a file this run extracted: a later hard link may not name it.
    void clear_slot(const std::string& name, int dir_fd, const Components& path) {
        const std::string& leaf = path.back();
        struct stat st {};
        if (::fstatat(dir_fd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(st.st_mode)) refuse(name, "a directory of that name already exists");
        if (::unlinkat(dir_fd, leaf.c_str(), 0) != 0) throw IoError("cannot replace", name, errno);
        extracted_files_.erase(joined(path));
    }

    // The permission bits an entry gets: setuid/setgid never; world-writable and sticky bits
    // neither (a documents tree has no use for them, and a "./" entry of mode 1777 would open
    // the target to every local user), with a warning.
    unsigned safe_mode(const std::string& name, archive_entry* ae) {
        const unsigned stored = static_cast<unsigned>(archive_entry_perm(ae)) & 07777u;
        const unsigned mode = stored & 0775u;
        if ((stored & (01000u | 0002u)) != 0) {
            ++summary_.modes_normalised;
            if (summary_.modes_normalised <= max_mode_warnings && options_.on_warning)
                options_.on_warning(fmt::format(
                    "'{}': mode {:04o} normalised to {:04o} (no world-writable or sticky bit)",
                    name.empty() ? "./" : name, stored, mode));
        }
        return mode;
    }

    void remember_dir(const Components& path, archive_entry* ae) {
        const char* raw = archive_entry_pathname(ae);
        dirs_.push_back({path,
                         safe_mode(raw != nullptr ? raw : "", ae),
                         {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)},
                         archive_entry_mtime_is_set(ae) != 0});
    }

    void make_dir(const std::string& name, const Components& path, archive_entry* ae) {
        const int at = parent_fd(name, path);
        if (::mkdirat(at, path.back().c_str(), 0700) != 0) {
            if (errno != EEXIST) throw IoError("cannot create directory", name, errno);
            struct stat st {};
            if (::fstatat(at, path.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISDIR(st.st_mode))
                refuse(name, "a non-directory of that name already exists");
        }
        remember_dir(path, ae);
        ++summary_.directories;
    }

    void set_meta(int fd, const std::string& name, archive_entry* ae) {
        if (options_.restore_modes) {
            if (::fchmod(fd, static_cast<mode_t>(safe_mode(name, ae))) != 0)
                throw IoError("cannot set the mode of", name, errno);
        }
        if (options_.restore_times && archive_entry_mtime_is_set(ae)) {
            const timespec times[2] = {{0, UTIME_OMIT},
                                       {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)}};
            if (::futimens(fd, times) != 0) throw IoError("cannot set the time of", name, errno);
        }
    }

    void make_file(const std::string& name, const Components& path, archive_entry* ae,
                   detail::SourceReader& reader) {
        const int at = parent_fd(name, path);
        clear_slot(name, at, path);
        io::UniqueFd fd(::openat(at, path.back().c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) throw IoError("cannot create", name, errno);
        io::FdSink out(io::UniqueFd(::dup(fd.get())), name);
        for (;;) {
            const std::size_t n = reader.read_data(buffer_, name);
            if (n == 0) break;
            summary_.content_bytes += n;
            if (options_.max_content_bytes > 0 &&
                summary_.content_bytes > options_.max_content_bytes)
                refuse(name, fmt::format("the archive writes more than the {} content bytes "
                                         "recorded for it",
                                         options_.max_content_bytes));
            out.write(io::Bytes(buffer_.data(), n));
        }
        out.finish();
        set_meta(fd.get(), name, ae);
        extracted_files_.insert(joined(path));
        ++summary_.files;
    }

    void make_symlink(const std::string& name, const Components& path, archive_entry* ae) {
        const char* t = archive_entry_symlink(ae);
        const std::string target = t != nullptr ? t : "";
        check_symlink_target(name, path.size() - 1, target);
        const int at = parent_fd(name, path);
        clear_slot(name, at, path);
        if (::symlinkat(target.c_str(), at, path.back().c_str()) != 0)
            throw IoError("cannot create symlink", name, errno);
        if (options_.restore_times && archive_entry_mtime_is_set(ae)) {
            const timespec times[2] = {{0, UTIME_OMIT},
                                       {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)}};
            ::utimensat(at, path.back().c_str(), times, AT_SYMLINK_NOFOLLOW);
        }
        ++summary_.symlinks;
    }

    void make_hardlink(const std::string& name, const Components& path, archive_entry* ae) {
        const std::string first = archive_entry_hardlink(ae);
        auto source = map(first, "hard link target");
        if (!source || source->empty())
            refuse(name, fmt::format("hard link to '{}', outside what is extracted", first));
        const std::string key = joined(*source);
        if (extracted_files_.count(key) == 0)
            refuse(name, fmt::format("hard link to '{}', which is not a file extracted before it",
                                     first));
        // Open the source's directory first (the cache holds one chain), then the link's.
        io::UniqueFd src_dir(::dup(parent_fd(first, *source)));
        if (!src_dir) throw IoError("cannot duplicate a descriptor", first, errno);
        // linkat links a symlink itself, not its target: only a regular file may be linked.
        struct stat st {};
        if (::fstatat(src_dir.get(), source->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            refuse(name, fmt::format("hard link to '{}', which is not a regular file", first));
        const int at = parent_fd(name, path);
        if (joined(path) == key) return;  // a link to itself: already there
        clear_slot(name, at, path);
        if (::linkat(src_dir.get(), source->back().c_str(), at, path.back().c_str(), 0) != 0)
            throw IoError("cannot create hard link", name, errno);
        extracted_files_.insert(joined(path));
        ++summary_.hardlinks;
    }

    void finish_dirs() {
        open_path_.clear();
        open_fds_.clear();
        // Deepest first, so that setting a parent's time comes after its children changed it.
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
            io::UniqueFd fd;
            if (it->path.empty()) {
                fd.reset(::dup(root_fd_));
            } else {
                Components probe = it->path;
                probe.emplace_back("x");
                const int at = parent_fd(joined(it->path), probe);
                fd.reset(::dup(at));
            }
            if (!fd) throw IoError("cannot open directory", joined(it->path), errno);
            if (options_.restore_modes || !it->has_mtime) {
                if (::fchmod(fd.get(), static_cast<mode_t>(it->mode)) != 0)
                    throw IoError("cannot set the mode of", joined(it->path), errno);
            }
            if (options_.restore_times && it->has_mtime) {
                const timespec times[2] = {{0, UTIME_OMIT}, it->mtime};
                if (::futimens(fd.get(), times) != 0)
                    throw IoError("cannot set the time of", joined(it->path), errno);
            }
        }
    }

    static constexpr std::uint64_t max_mode_warnings = 20;
    int root_fd_;
    const ExtractOptions& options_;
    Components subtree_;
    ExtractSummary summary_;
    std::vector<std::byte> buffer_ = std::vector<std::byte>(io::default_buffer_size);
    Components open_path_;
    std::vector<io::UniqueFd> open_fds_;
    std::vector<DirFixup> dirs_;
    std::unordered_set<std::string> extracted_files_;
};

}  // namespace

void remove_tree(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw IoError("cannot stat", path.string(), errno);
    }
    if (S_ISDIR(st.st_mode)) {
        if ((st.st_mode & 0700) != 0700) ::chmod(path.c_str(), 0700);
        io::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw IoError("cannot open directory", path.string(), errno);
        remove_children(fd.get(), path.string());
        if (::rmdir(path.c_str()) != 0)
            throw IoError("cannot remove directory", path.string(), errno);
    } else if (::unlink(path.c_str()) != 0) {
        throw IoError("cannot remove", path.string(), errno);
    }
}

namespace {

constexpr const char* inside_staging_prefix = ".dolibak-staging-";
constexpr const char* inside_old_prefix = ".dolibak-old-";
constexpr const char* journal_name = ".dolibak-restore-journal";
constexpr const char* journal_temp_name = ".dolibak-restore-journal.tmp";

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        out.push_back(it->path().filename().string());
    return out;
}

void warn(const ExtractOptions& o, const std::string& message) {
    if (o.on_warning) o.on_warning(message);
}

// A mount point cannot be renamed (EBUSY): its content is swapped instead.
bool is_mount_point(const std::filesystem::path& target) {
    struct statx stx {};
    if (::statx(AT_FDCWD, target.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
        (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0)
        return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    struct stat here {
    }, up{};
    if (::stat(target.c_str(), &here) != 0) return false;
    if (::stat((target / "..").c_str(), &up) != 0) return false;
    return here.st_dev != up.st_dev || here.st_ino == up.st_ino;
}

// Moves every entry of `from` (but the skipped names) into `to`, on the same filesystem.
void move_entries(const std::filesystem::path& from, const std::filesystem::path& to,
                  const std::vector<std::string>& skip) {
    for (const auto& n : names_in(from)) {
        if (std::find(skip.begin(), skip.end(), n) != skip.end()) continue;
        if (::rename((from / n).c_str(), (to / n).c_str()) != 0)
            throw IoError("cannot move " + n + " into", to.string(), errno);
    }
}

void write_journal(const std::filesystem::path& target, const std::string& staging,
                   const std::string& old, int phase) {
    const auto temp = target / journal_temp_name;
    {
        io::UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) throw IoError("cannot write the restore journal", temp.string(), errno);
        io::FdSink out(io::UniqueFd(::dup(fd.get())), temp.string());
        const std::string text =
            fmt::format("dolibak restore journal 1\n{}\n{}\n{}\n", staging, old, phase);
        out.write(io::as_bytes(text));
        out.finish();
        if (::fsync(fd.get()) != 0) throw IoError("cannot sync", temp.string(), errno);
    }
    if (::rename(temp.c_str(), (target / journal_name).c_str()) != 0)
        throw IoError("cannot install the restore journal in", target.string(), errno);
    io::fsync_directory(target);
}

// Phase 1: the old entries move into `old`; phase 2: the new ones out of `staging`; then the
// root's mode and time, and the leftovers go. Every step can be replayed after a kill.
void swap_inside(const std::filesystem::path& target, const std::string& staging,
                 const std::string& old, int phase) {
    const std::vector<std::string> special = {staging, old, journal_name, journal_temp_name};
    if (phase <= 1) {
        move_entries(target, target / old, special);
        io::fsync_directory(target);
        write_journal(target, staging, old, 2);
    }
    move_entries(target / staging, target, {});
    struct stat st {};
    if (::stat((target / staging).c_str(), &st) == 0) {
        ::chmod(target.c_str(), st.st_mode & 07777);
        const timespec times[2] = {{0, UTIME_OMIT}, st.st_mtim};
        ::utimensat(AT_FDCWD, target.c_str(), times, 0);
    }
    io::fsync_directory(target);
    if (::unlink((target / journal_name).c_str()) != 0 && errno != ENOENT)
        throw IoError("cannot remove the restore journal of", target.string(), errno);
    io::fsync_directory(target);
    remove_tree(target / old);
    remove_tree(target / staging);
}

// Leftovers of a killed extraction into a mount point: a journal is rolled forward (the
// staging tree it names was complete and checked before the journal was written); staging
// and old trees without a journal are removed.
void recover_inside(const std::filesystem::path& target, const ExtractOptions& options) {
    const auto journal = target / journal_name;
    if (std::filesystem::exists(std::filesystem::symlink_status(journal))) {
        std::string text;
        {
            io::UniqueFd fd(::open(journal.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            if (!fd) throw IoError("cannot read the restore journal", journal.string(), errno);
            char buf[1024];
            const ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n > 0) text.assign(buf, static_cast<std::size_t>(n));
        }
        std::vector<std::string> lines;
        for (std::size_t pos = 0; pos < text.size();) {
            const auto nl = text.find('\n', pos);
            if (nl == std::string::npos) break;
            lines.push_back(text.substr(pos, nl - pos));
            pos = nl + 1;
        }
        if (lines.size() != 4 || lines[0] != "dolibak restore journal 1" ||
            !starts_with(lines[1], inside_staging_prefix) ||
            !starts_with(lines[2], inside_old_prefix) || (lines[3] != "1" && lines[3] != "2") ||
            lines[1].find('/') != std::string::npos || lines[2].find('/') != std::string::npos)
            throw FormatError("the restore journal " + journal.string() +
                              " is not one dolibak wrote: look at it and remove it by hand");
        warn(options, "completing the restore into " + target.string() +
                          " that was interrupted while swapping (journal found)");
        swap_inside(target, lines[1], lines[2], lines[3] == "1" ? 1 : 2);
    }
    ::unlink((target / journal_temp_name).c_str());
    for (const auto& n : names_in(target)) {
        if (!starts_with(n, inside_staging_prefix) && !starts_with(n, inside_old_prefix)) continue;
        warn(options, "removing " + (target / n).string() + ", left by an interrupted restore");
        remove_tree(target / n);
    }
}

// Leftovers of a killed extraction beside `target`: staging trees are removed; an old tree is
// put back when the target is missing (killed between the two renames), else removed.
void recover_beside(const std::filesystem::path& target, const ExtractOptions& options) {
    const auto parent = target.parent_path();
    const std::string staging = "." + target.filename().string() + ".dolibak-staging-";
    const std::string old = "." + target.filename().string() + ".dolibak-old-";
    for (const auto& n : names_in(parent)) {
        const bool is_staging = starts_with(n, staging);
        const bool is_old = starts_with(n, old);
        if (!is_staging && !is_old) continue;
        if (is_old && !std::filesystem::exists(std::filesystem::symlink_status(target))) {
            warn(options, "putting back " + target.string() + " from " + n +
                              ", left by an interrupted restore");
            if (::rename((parent / n).c_str(), target.c_str()) != 0)
                throw IoError("cannot put back the old tree", target.string(), errno);
            continue;
        }
        warn(options, "removing " + (parent / n).string() + ", left by an interrupted restore");
        remove_tree(parent / n);
    }
}

ExtractSummary extract_inside(io::Source& source, const std::filesystem::path& target,
                              const struct stat& target_st, const ExtractOptions& options) {
    recover_inside(target, options);
    std::string templ = (target / (std::string(inside_staging_prefix) + "XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr)
        throw IoError("cannot create a staging directory in", target.string(), errno);
    const std::filesystem::path staging = templ;
    const std::string staging_name = staging.filename().string();
    try {
        ExtractSummary summary;
        {
            io::UniqueFd root(
                ::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!root) throw IoError("cannot open the staging directory", staging.string(), errno);
            if (::fchmod(root.get(), target_st.st_mode & 07777) != 0)
                throw IoError("cannot set the mode of", staging.string(), errno);
            Extractor x(root.get(), options);
            summary = x.run(source);
            if (::fsync(root.get()) != 0) throw IoError("cannot sync", staging.string(), errno);
        }
        std::string old_templ = (target / (std::string(inside_old_prefix) + "XXXXXX")).string();
        if (::mkdtemp(old_templ.data()) == nullptr)
            throw IoError("cannot create a directory for the old tree in", target.string(), errno);
        const std::string old_name = std::filesystem::path(old_templ).filename().string();
        // From here on, the journal makes the swap complete even if this process dies.
        write_journal(target, staging_name, old_name, 1);
        swap_inside(target, staging_name, old_name, 1);
        return summary;
    } catch (...) {
        if (!std::filesystem::exists(std::filesystem::symlink_status(target / journal_name))) {
            try {
                remove_tree(staging);
            } catch (...) {
            }
        }
        throw;
    }
}

}  // namespace

ExtractSummary extract_tar(io::Source& source, const std::filesystem::path& target_in,
                           const ExtractOptions& options) {
    try {
        if (target_in.empty()) throw ConfigError("no target directory given");
        std::filesystem::path target = std::filesystem::absolute(target_in).lexically_normal();
        if (!target.has_filename()) target = target.parent_path();
        if (!options.in_place) recover_beside(target, options);
        struct stat st {};
        const bool exists = ::stat(target.c_str(), &st) == 0;
        if (exists && !S_ISDIR(st.st_mode))
            throw ConfigError(
                fmt::format("the target {} exists and is not a directory", target.string()));
        if (exists)
            target = std::filesystem::canonical(target);  // a link to a volume: swap the real dir

        if (options.in_place) {
            if (exists) recover_inside(target, options);
            std::filesystem::create_directories(target);
            io::UniqueFd root(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!root) throw IoError("cannot open the target directory", target.string(), errno);
            Extractor x(root.get(), options);
            return x.run(source);
        }

        if (exists && is_mount_point(target)) return extract_inside(source, target, st, options);
        if (exists) recover_inside(target, options);  // an earlier target that was mounted
        const std::filesystem::path parent = target.parent_path();
        std::filesystem::create_directories(parent);
        std::string templ =
            (parent / ("." + target.filename().string() + ".dolibak-staging-XXXXXX")).string();
        if (::mkdtemp(templ.data()) == nullptr)
            throw IoError("cannot create a staging directory next to", target.string(), errno);
        const std::filesystem::path staging = templ;
        try {
            ExtractSummary summary;
            {
                io::UniqueFd root(
                    ::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!root)
                    throw IoError("cannot open the staging directory", staging.string(), errno);
                if (::fchmod(root.get(), exists ? (st.st_mode & 07777) : 0755) != 0)
                    throw IoError("cannot set the mode of", staging.string(), errno);
                Extractor x(root.get(), options);
                summary = x.run(source);
            }
            if (exists) {
                if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(),
                                RENAME_EXCHANGE) == 0) {
                    io::fsync_directory(parent);
                    remove_tree(staging);  // now the old tree
                } else {
                    if (errno != EINVAL && errno != ENOSYS)
                        throw IoError("cannot swap the extracted tree into place", target.string(),
                                      errno);
                    std::string old =
                        (parent / ("." + target.filename().string() + ".dolibak-old-XXXXXX"))
                            .string();
                    if (::mkdtemp(old.data()) == nullptr || ::rmdir(old.c_str()) != 0)
                        throw IoError("cannot name the old tree", old, errno);
                    if (::rename(target.c_str(), old.c_str()) != 0)
                        throw IoError("cannot move the old tree aside", target.string(), errno);
                    if (::rename(staging.c_str(), target.c_str()) != 0) {
                        const int e = errno;
                        ::rename(old.c_str(), target.c_str());
                        throw IoError("cannot move the extracted tree into place", target.string(),
                                      e);
                    }
                    io::fsync_directory(parent);
                    remove_tree(old);
                }
            } else {
                if (::rename(staging.c_str(), target.c_str()) != 0)
                    throw IoError("cannot move the extracted tree into place", target.string(),
                                  errno);
                io::fsync_directory(parent);
            }
            return summary;
        } catch (...) {
            try {
                remove_tree(staging);
            } catch (...) {
            }
            throw;
        }
    } catch (Error& e) {
        e.with_context(fmt::format("while extracting into {}", target_in.string()));
        throw;
    }
}

}  // namespace dolibak::tarball
