// A store in a local directory. Objects are files under the root; a put writes
// <root>/.dolibak-tmp/<random>.part, fsyncs it and renames it into place (same file system:
// atomic), then fsyncs the directory. list() never shows .dolibak-tmp.
//
// Every change of the tree (publish, remove, remove_if) happens under an exclusive flock() on
// <root>/.dolibak-tmp/publish.lock (present only while held), so that a compare-then-rename
// (if_match) or compare-then-unlink (remove_if) is atomic against other processes using the store.
// An object's etag is its inode, size and modification time (ns): a replace is a rename of a
// new file, so the etag changes.
#include "store/backends.hpp"

#include <dolibak/io/file_io.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

namespace dolibak::store {

namespace fs = std::filesystem;

namespace {

std::string random_name() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (int i = 0; i < 16; ++i) s += alphabet[rng() % (sizeof alphabet - 1)];
    return s;
}

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

constexpr std::string_view lock_name = "publish.lock";

std::string etag_of(const struct stat& st) {
    char buf[80];
    const long long ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL +
                         static_cast<long long>(st.st_mtim.tv_nsec);
    std::snprintf(buf, sizeof buf, "%llx-%llx-%llx", static_cast<unsigned long long>(st.st_ino),
                  static_cast<unsigned long long>(st.st_size), static_cast<unsigned long long>(ns));
    return buf;
}

// Creates `dir` and its missing parents up to `root` (never `root` itself: a store directory
// that vanished, an unmounted backup disk, is an error, not something to recreate), each 0700
// whatever the umask (mkdir's mode goes through the umask, chmod's does not). Directories
// that exist are left as they are. An empty `root` creates every missing parent.
void create_private_dirs(const fs::path& dir, const fs::path& root) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) throw IoError("cannot create directory", dir.string(), ENOTDIR);
        return;
    }
    if (errno != ENOENT) throw IoError("cannot create directory", dir.string(), errno);
    if (!root.empty() && dir == root)
        throw IoError("the store directory is gone (is the backup disk mounted?)", dir.string(),
                      ENOENT);
    if (dir.has_relative_path() && dir.parent_path() != dir)
        create_private_dirs(dir.parent_path(), root);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return;  // made meanwhile by someone else
        throw IoError("cannot create directory", dir.string(), errno);
    }
    if (::chmod(dir.c_str(), 0700) != 0)
        throw IoError("cannot set the mode of", dir.string(), errno);
}

fs::path make_tmpdir(const fs::path& root) {
    auto tmpdir = root / std::string(reserved_dir);
    create_private_dirs(tmpdir, root);
    return tmpdir;
}

// The store's exclusive lock for changes of the tree, held while it lives. The lock file
// exists only while someone holds or waits for it (a store at rest holds nothing but its
// objects): the holder removes it before unlocking, and whoever locked a file that is no
// longer the one under the name (removed meanwhile) tries again with a new one.
class TreeLock {
public:
    explicit TreeLock(const fs::path& root) : path_(make_tmpdir(root) / std::string(lock_name)) {
        for (;;) {
            const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) throw IoError("cannot open", path_.string(), errno);
            io::UniqueFd owned(fd);
            while (::flock(fd, LOCK_EX) != 0)
                if (errno != EINTR) throw IoError("cannot lock", path_.string(), errno);
            struct stat held {
            }, named{};
            if (::fstat(fd, &held) != 0) throw IoError("cannot stat", path_.string(), errno);
            if (::stat(path_.c_str(), &named) == 0 && named.st_dev == held.st_dev &&
                named.st_ino == held.st_ino) {
                fd_ = std::move(owned);
                return;
            }
            // The previous holder removed that file while we waited: start over.
        }
    }
    ~TreeLock() {
        ::unlink(path_.c_str());  // still locked: nobody can hold the name's file now
        // Closing the descriptor (fd_) releases the lock.
    }
    TreeLock(const TreeLock&) = delete;
    TreeLock& operator=(const TreeLock&) = delete;

private:
    fs::path path_;
    io::UniqueFd fd_;
};

// The etag of the regular file at `path`, or nullopt when there is none.
std::optional<std::string> current_etag(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        throw IoError("cannot stat", path.string(), errno);
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return etag_of(st);
}

class FileSink final : public ObjectSink {
public:
    FileSink(fs::path root, std::string url, std::string key, PutOptions options)
        : root_(std::move(root)),
          url_(std::move(url)),
          key_(std::move(key)),
          options_(std::move(options)) {
        const auto tmpdir = make_tmpdir(root_);
        for (int i = 0; i < 100 && !fd_; ++i) {
            temp_ = tmpdir / (random_name() + ".part");
            const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd >= 0)
                fd_.reset(fd);
            else if (errno != EEXIST)
                throw IoError("cannot create", temp_.string(), errno);
        }
        if (!fd_) throw IoError("cannot create", temp_.string(), EEXIST);
        // Objects are the owner's alone (0600), whatever the umask: a database dump holds
        // every customer's data.
        if (::fchmod(fd_.get(), 0600) != 0) {
            const int e = errno;
            abort();
            throw IoError("cannot set the mode of", temp_.string(), e);
        }
    }
    ~FileSink() override { abort(); }

    void write(io::Bytes data) override {
        if (done_) throw Error("write to " + key_ + " after it was completed");
        const std::byte* p = data.data();
        std::size_t left = data.size();
        while (left > 0) {
            const ssize_t n = ::write(fd_.get(), p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw IoError("cannot write", temp_.string(), errno);
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }

    std::string etag() const override { return published_ ? etag_ : std::string(); }

    void finish() override {
        if (done_) throw Error("completing " + key_ + " twice");
        try {
            if (::fsync(fd_.get()) != 0) throw IoError("cannot fsync", temp_.string(), errno);
            // Neither rename() nor link() changes inode, size or mtime: this is the etag the
            // object will have.
            struct stat st {};
            if (::fstat(fd_.get(), &st) != 0) throw IoError("cannot stat", temp_.string(), errno);
            const std::string etag = etag_of(st);
            if (::close(fd_.release()) != 0) throw IoError("cannot close", temp_.string(), errno);
            const fs::path final_path = root_ / key_;
            const fs::path dir = final_path.parent_path();
            {
                TreeLock lock(root_);
                create_private_dirs(dir, root_);
                if (options_.no_overwrite) {
                    // link() fails if the name exists: no window where another object is
                    // replaced, even by a process that does not take the lock.
                    if (::link(temp_.c_str(), final_path.c_str()) != 0) {
                        const int e = errno;
                        if (e == EEXIST) throw AlreadyExists(url_, key_);
                        throw IoError("cannot publish", final_path.string(), e);
                    }
                    ::unlink(temp_.c_str());
                } else {
                    if (!options_.if_match.empty()) {
                        const auto current = current_etag(final_path);
                        if (!current || *current != options_.if_match)
                            throw PreconditionFailed(
                                url_, key_, current ? "its etag is now " + *current : "it is gone");
                    }
                    if (::rename(temp_.c_str(), final_path.c_str()) != 0)
                        throw IoError("cannot publish", final_path.string(), errno);
                }
                done_ = true;
                published_ = true;
                etag_ = etag;
            }
            io::fsync_directory(dir);
        } catch (...) {
            abort();
            throw;
        }
    }

    void abort() noexcept override {
        if (done_) return;
        done_ = true;
        fd_.reset();
        ::unlink(temp_.c_str());
    }

private:
    fs::path root_;
    std::string url_;
    std::string key_;
    PutOptions options_;
    fs::path temp_;
    io::UniqueFd fd_;
    bool done_ = false;
    bool published_ = false;
    std::string etag_;
};

class LimitedSource final : public io::Source {
public:
    LimitedSource(std::unique_ptr<io::Source> inner, std::optional<std::uint64_t> limit)
        : inner_(std::move(inner)), left_(limit) {}
    std::size_t read(io::MutableBytes buf) override {
        if (left_ && *left_ == 0) return 0;
        if (left_ && buf.size() > *left_) buf = buf.subspan(0, static_cast<std::size_t>(*left_));
        const auto n = inner_->read(buf);
        if (left_) *left_ -= n;
        return n;
    }

private:
    std::unique_ptr<io::Source> inner_;
    std::optional<std::uint64_t> left_;
};

class FileStore final : public Store {
public:
    explicit FileStore(fs::path root) : root_(std::move(root)) {}

    std::string url() const override {
        std::string s = "file://" + root_.string();
        if (!s.ends_with('/')) s += '/';
        return s;
    }

    std::unique_ptr<ObjectSink> put(const std::string& key, const PutOptions& options) override {
        validate_key(key);
        check_put_options(key, options);
        return std::make_unique<FileSink>(root_, url(), key, options);
    }

    std::unique_ptr<io::Source> get(const std::string& key, const GetOptions& options) override {
        validate_key(key);
        const auto path = root_ / key;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR) throw ObjectNotFound(url(), key);
            throw IoError("cannot open", path.string(), errno);
        }
        io::UniqueFd owned(fd);
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw IoError("cannot stat", path.string(), errno);
        if (!S_ISREG(st.st_mode)) throw ObjectNotFound(url(), key);
        if (options.offset > 0 && ::lseek(fd, static_cast<off_t>(options.offset), SEEK_SET) < 0)
            throw IoError("cannot seek", path.string(), errno);
        auto src = std::make_unique<io::FdSource>(std::move(owned), path.string());
        return std::make_unique<LimitedSource>(std::move(src), options.length);
    }

    std::optional<ObjectInfo> head(const std::string& key) override {
        validate_key(key);
        const auto path = root_ / key;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
            throw IoError("cannot stat", path.string(), errno);
        }
        if (!S_ISREG(st.st_mode)) return std::nullopt;
        return ObjectInfo{key, static_cast<std::uint64_t>(st.st_size), mtime_of(st), etag_of(st)};
    }

    std::vector<ObjectInfo> list(const std::string& prefix) override {
        std::vector<ObjectInfo> out;
        // Walk only the directory the prefix points into.
        const auto slash = prefix.rfind('/');
        const std::string dir_part = slash == std::string::npos ? "" : prefix.substr(0, slash);
        const fs::path start = dir_part.empty() ? root_ : root_ / dir_part;
        std::error_code ec;
        if (!fs::is_directory(start, ec)) return out;
        fs::recursive_directory_iterator it(start, fs::directory_options::none, ec);
        if (ec) throw IoError("cannot list", start.string(), ec.value());
        for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) throw IoError("cannot list", start.string(), ec.value());
            const auto rel = it->path().lexically_relative(root_).generic_string();
            if (it.depth() == 0 && dir_part.empty() && it->path().filename() == reserved_dir) {
                it.disable_recursion_pending();
                continue;
            }
            struct stat st {};
            if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (!rel.starts_with(prefix)) continue;
            out.push_back({rel, static_cast<std::uint64_t>(st.st_size), mtime_of(st), etag_of(st)});
        }
        std::sort(out.begin(), out.end(),
                  [](const auto& a, const auto& b) { return a.key < b.key; });
        return out;
    }

    void remove(const std::string& key) override {
        validate_key(key);
        const auto path = root_ / key;
        TreeLock lock(root_);
        unlink_and_tidy(path);
    }

    void remove_if(const std::string& key, const std::string& etag) override {
        validate_key(key);
        if (etag.empty()) throw ConfigError("remove_if of '" + key + "' without an etag");
        const auto path = root_ / key;
        TreeLock lock(root_);
        const auto current = current_etag(path);
        if (!current || *current != etag)
            throw PreconditionFailed(url(), key,
                                     current ? "its etag is now " + *current : "it is gone");
        unlink_and_tidy(path);
    }

    std::size_t cleanup(std::chrono::seconds older_than) override {
        const auto tmpdir = root_ / std::string(reserved_dir);
        std::error_code ec;
        if (!fs::is_directory(tmpdir, ec)) return 0;
        const auto now = std::chrono::system_clock::now();
        std::size_t n = 0;
        for (const auto& e : fs::directory_iterator(tmpdir, ec)) {
            if (e.path().filename() == lock_name) continue;  // never: others may hold it
            struct stat st {};
            if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (now - mtime_of(st) < older_than) continue;
            if (::unlink(e.path().c_str()) == 0) ++n;
        }
        return n;
    }

private:
    // With the tree lock held.
    void unlink_and_tidy(const fs::path& path) {
        if (::unlink(path.c_str()) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return;
            throw IoError("cannot remove", path.string(), errno);
        }
        // Tidy: remove directories left empty, up to the root.
        for (auto dir = path.parent_path();
             dir != root_ && dir.string().size() > root_.string().size(); dir = dir.parent_path())
            if (::rmdir(dir.c_str()) != 0) break;
    }

    fs::path root_;
};

}  // namespace

std::unique_ptr<Store> make_file_store(const fs::path& root, bool create) {
    auto p = root.lexically_normal();
    if (p.is_relative()) throw ConfigError("store directory must be absolute: " + p.string());
    std::string s = p.string();
    while (s.size() > 1 && s.ends_with('/')) s.pop_back();
    p = s;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
        if (!create)
            throw ConfigError("store directory " + p.string() +
                              " does not exist (is the backup disk mounted?)");
        create_private_dirs(p, {});
    }
    return std::make_unique<FileStore>(p);
}

}  // namespace dolibak::store
