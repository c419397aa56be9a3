#include <dolibak/tarball/writer.hpp>

#include <dolibak/tarball/walk.hpp>
#include "tarball/archive_handle.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>

#include <fmt/core.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <unordered_map>

namespace dolibak::tarball {

std::string to_string(Compression c) {
    switch (c) {
        case Compression::none:
            return "none";
        case Compression::gzip:
            return "gzip";
        case Compression::zstd:
            return "zstd";
    }
    return "?";
}

Compression parse_compression(std::string_view name) {
    if (name == "gzip" || name == "gz") return Compression::gzip;
    if (name == "zstd" || name == "zst") return Compression::zstd;
    if (name == "none") return Compression::none;
    throw ConfigError(fmt::format("unknown compression '{}' (expected gzip, zstd or none)", name));
}

std::string file_extension(Compression c) {
    switch (c) {
        case Compression::none:
            return ".tar";
        case Compression::gzip:
            return ".tar.gz";
        case Compression::zstd:
            return ".tar.zst";
    }
    return ".tar";
}

namespace {

using tarball::WalkEntry;

// Collects libarchive's output into large writes to the sink; keeps the sink's exception.
struct Output {
    io::Sink& sink;
    std::vector<std::byte> buffer;
    std::uint64_t total = 0;
    std::exception_ptr error;
    bool discard = false;  // set when the writer is abandoned: nothing more reaches the sink
    static constexpr std::size_t direct_size = 64 * 1024;

    void flush() {
        if (discard) buffer.clear();
        if (buffer.empty()) return;
        sink.write(io::Bytes(buffer.data(), buffer.size()));
        buffer.clear();
    }

    static la_ssize_t on_write(archive* a, void* self_ptr, const void* data, size_t size) {
        auto* self = static_cast<Output*>(self_ptr);
        try {
            const auto* bytes = static_cast<const std::byte*>(data);
            if (self->discard) return static_cast<la_ssize_t>(size);
            // Small writes are gathered; a large one (the compressor's output buffer) is
            // passed on as it is, after what was gathered.
            if (self->buffer.size() + size > io::default_buffer_size || size >= direct_size)
                self->flush();
            if (size >= direct_size) {
                self->sink.write(io::Bytes(bytes, size));
            } else {
                self->buffer.insert(self->buffer.end(), bytes, bytes + size);
            }
            self->total += size;
            return static_cast<la_ssize_t>(size);
        } catch (...) {
            self->error = std::current_exception();
            archive_set_error(a, EIO, "the output failed");
            return -1;
        }
    }
    static int on_close(archive* a, void* self_ptr) {
        auto* self = static_cast<Output*>(self_ptr);
        try {
            self->flush();
            return ARCHIVE_OK;
        } catch (...) {
            self->error = std::current_exception();
            archive_set_error(a, EIO, "the output failed");
            return ARCHIVE_FATAL;
        }
    }
};

class Names {
public:
    const std::string& user(uid_t uid) {
        auto [it, inserted] = users_.try_emplace(uid);
        if (inserted) {
            passwd pw{};
            passwd* result = nullptr;
            std::vector<char> buf(4096);
            if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr)
                it->second = result->pw_name;
        }
        return it->second;
    }
    const std::string& group(gid_t gid) {
        auto [it, inserted] = groups_.try_emplace(gid);
        if (inserted) {
            struct group gr {};
            struct group* result = nullptr;
            std::vector<char> buf(4096);
            if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &result) == 0 && result != nullptr)
                it->second = result->gr_name;
        }
        return it->second;
    }

private:
    std::map<uid_t, std::string> users_;
    std::map<gid_t, std::string> groups_;
};

struct FileId {
    dev_t dev;
    ino_t ino;
    bool operator==(const FileId&) const = default;
};
struct FileIdHash {
    std::size_t operator()(const FileId& f) const noexcept {
        return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(f.ino) * 1000003u ^
                                          static_cast<std::uint64_t>(f.dev));
    }
};

class TarWriter {
public:
    TarWriter(io::Sink& sink, const WriteOptions& options)
        : options_(options),
          out_{sink, {}, 0, nullptr},
          entry_(archive_entry_new()),
          buffer_(io::default_buffer_size) {
        if (!entry_) throw Error("out of memory creating an archive entry");
        buffer_.resize(io::default_buffer_size);
        out_.buffer.reserve(io::default_buffer_size);
        a_.reset(archive_write_new());
        if (!a_) throw Error("out of memory creating the tar writer");
        check(archive_write_set_format_pax(a_.get()), "setting the pax format");
        int level = options.level;
        switch (options.compression) {
            case Compression::none:
                check(archive_write_add_filter_none(a_.get()), "no filter");
                break;
            case Compression::gzip:
                if (level < 0) level = 6;
                if (level > 9)
                    throw ConfigError(fmt::format("gzip level {} is out of range 0-9", level));
                check(archive_write_add_filter_gzip(a_.get()), "adding gzip");
                set_filter_option("gzip", "compression-level", std::to_string(level).c_str());
                // Without it the gzip header carries the current time.
                if (options.reproducible) set_filter_option("gzip", "timestamp", nullptr);
                break;
            case Compression::zstd:
                if (level < 0) level = 3;
                if (level < 1 || level > 22)
                    throw ConfigError(fmt::format("zstd level {} is out of range 1-22", level));
                check(archive_write_add_filter_zstd(a_.get()), "adding zstd");
                set_filter_option("zstd", "compression-level", std::to_string(level).c_str());
                if (options.threads < 0) throw ConfigError("zstd threads must be 0 or more");
                if (options.threads > 0)
                    set_filter_option("zstd", "threads", std::to_string(options.threads).c_str());
                break;
        }
        // No zero padding after a compressed stream: zstd (and strict gzip) readers reject it.
        // Nor blocking: libarchive would cut the compressor's output into 10 KiB blocks, each
        // then copied into Output's buffer; unblocked, its large outputs go straight through.
        if (options.compression != Compression::none) {
            check(archive_write_set_bytes_per_block(a_.get(), 0), "unblocking the output");
            check(archive_write_set_bytes_in_last_block(a_.get(), 1), "setting the last block");
        }
        check(archive_write_open(a_.get(), &out_, nullptr, &Output::on_write, &Output::on_close),
              "opening the archive");
    }

    ~TarWriter() {
        out_.discard = true;
        a_.reset();
    }
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    WriteSummary run(const std::filesystem::path& root) {
        const ExcludeMatcher excludes(options_.excludes);
        tarball::WalkHandlers h;
        h.entry = [this](const WalkEntry& e) { add(e); };
        h.vanished = [this](const std::string& path, int) {
            warn(path, "vanished during the walk");
        };
        h.unreadable = [this](const std::string& path, const std::string& what, int err) {
            unreadable(path, what, err);
        };
        for (const auto& p : excludes.patterns()) summary_.exclusions.push_back({p, 0, 0});
        h.excluded = [this](const std::string&, int pattern, std::uint64_t files,
                            std::uint64_t bytes) {
            ++summary_.excluded;
            auto& x = summary_.exclusions.at(static_cast<std::size_t>(pattern));
            x.files += files;
            x.bytes += bytes;
        };
        tarball::walk(root, excludes, h);
        if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("closing the archive");
        // libarchive ignores what the close callback returns: the last flush's failure (a
        // cancellation, a full disk) is only in out_.error.
        if (out_.error) std::rethrow_exception(out_.error);
        summary_.archive_bytes = out_.total;
        return std::move(summary_);
    }

private:
    void check(int rc, const char* what) {
        if (rc != ARCHIVE_OK) fail(what);
    }
    [[noreturn]] void fail(const std::string& what) {
        if (out_.error) std::rethrow_exception(out_.error);
        throw Error(fmt::format("tar writer: {}: {}", what, detail::error_text(a_.get())));
    }
    void set_filter_option(const char* filter, const char* key, const char* value) {
        if (archive_write_set_filter_option(a_.get(), filter, key, value) != ARCHIVE_OK)
            throw ConfigError(fmt::format("libarchive refused the {} option {}: {}", filter, key,
                                          detail::error_text(a_.get())));
    }
    void warn(const std::string& path, std::string message) {
        Warning w{path, std::move(message)};
        if (options_.on_warning) options_.on_warning(w);
        summary_.warnings.push_back(std::move(w));
    }
    void unreadable(const std::string& path, const std::string& what, int err) {
        if (options_.skip_unreadable) {
            warn(path, fmt::format("{}: {} (skipped)", what, errno_text(err)));
            return;
        }
        throw IoError(what, path, err);
    }

    void fill_header(const std::string& path, const struct stat& st) {
        archive_entry* e = entry_.get();
        archive_entry_clear(e);
        const std::string name = options_.prefix + path;
        archive_entry_copy_pathname(e, name.c_str());
        archive_entry_set_mode(e, st.st_mode);
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        if (options_.reproducible) {
            archive_entry_set_uid(e, 0);
            archive_entry_set_gid(e, 0);
            archive_entry_copy_uname(e, "root");
            archive_entry_copy_gname(e, "root");
        } else {
            archive_entry_set_uid(e, st.st_uid);
            archive_entry_set_gid(e, st.st_gid);
            const auto& u = names_.user(st.st_uid);
            const auto& g = names_.group(st.st_gid);
            if (!u.empty()) archive_entry_copy_uname(e, u.c_str());
            if (!g.empty()) archive_entry_copy_gname(e, g.c_str());
        }
    }

    void write_header(const std::string& path) {
        const int rc = archive_write_header(a_.get(), entry_.get());
        if (rc == ARCHIVE_WARN) {
            warn(path, fmt::format("tar header: {}", detail::error_text(a_.get())));
        } else if (rc != ARCHIVE_OK) {
            fail(fmt::format("writing the header of {}", path));
        }
        ++summary_.entries;
    }

    void add(const WalkEntry& w) {
        const auto mode = w.st.st_mode;
        if (S_ISDIR(mode)) {
            fill_header(w.path, w.st);
            archive_entry_set_size(entry_.get(), 0);
            write_header(w.path);
            ++summary_.directories;
        } else if (S_ISLNK(mode)) {
            fill_header(w.path, w.st);
            archive_entry_set_size(entry_.get(), 0);
            archive_entry_copy_symlink(entry_.get(), w.link_target.c_str());
            write_header(w.path);
            ++summary_.symlinks;
        } else if (S_ISREG(mode)) {
            add_file(w);
        } else {
            warn(w.path,
                 "not a regular file, directory or symlink (device, FIFO or socket): skipped");
        }
    }

    void add_file(const WalkEntry& w) {
        io::UniqueFd fd(tarball::open_for_reading(w.parent_fd, w.name));
        if (!fd) {
            if (errno == ENOENT) {
                warn(w.path, "vanished during the walk");
            } else if (errno == ELOOP) {
                warn(w.path, "replaced by a symlink during the walk: skipped");
            } else {
                unreadable(w.path, "cannot open", errno);
            }
            return;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            unreadable(w.path, "cannot stat", errno);
            return;
        }
        if (!S_ISREG(st.st_mode)) {
            warn(w.path, "no longer a regular file: skipped");
            return;
        }
        fill_header(w.path, st);
        if (st.st_nlink > 1) {
            const FileId id{st.st_dev, st.st_ino};
            auto [it, inserted] = links_.try_emplace(id, options_.prefix + w.path);
            if (!inserted) {
                archive_entry_copy_hardlink(entry_.get(), it->second.c_str());
                archive_entry_set_size(entry_.get(), 0);
                write_header(w.path);
                ++summary_.hardlinks;
                return;
            }
        }
        const auto size = static_cast<std::uint64_t>(st.st_size);
        archive_entry_set_size(entry_.get(), static_cast<la_int64_t>(size));
        write_header(w.path);
        ++summary_.files;

        std::uint64_t remaining = size;
        bool shrank = false;
        while (remaining > 0) {
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer_.size()));
            const ssize_t n = ::read(fd.get(), buffer_.data(), want);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw IoError("cannot read", w.path, errno);
            }
            if (n == 0) {
                shrank = true;
                break;
            }
            write_data(w.path, buffer_.data(), static_cast<std::size_t>(n));
            remaining -= static_cast<std::uint64_t>(n);
        }
        if (shrank) {
            warn(w.path, fmt::format("shrank during the walk: {} missing bytes stored as zeros",
                                     remaining));
            std::fill(buffer_.begin(), buffer_.end(), std::byte{0});
            while (remaining > 0) {
                const auto n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer_.size()));
                write_data(w.path, buffer_.data(), n);
                remaining -= n;
            }
        } else {
            std::byte probe[1];
            ssize_t n;
            do {
                n = ::read(fd.get(), probe, 1);
            } while (n < 0 && errno == EINTR);
            struct stat after {};
            if (n > 0) {
                warn(w.path,
                     fmt::format("grew during the walk: only the first {} bytes stored", size));
            } else if (::fstat(fd.get(), &after) == 0 &&
                       (after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
                        after.st_mtim.tv_nsec != st.st_mtim.tv_nsec ||
                        after.st_size != st.st_size)) {
                warn(w.path, "changed while being read");
            }
        }
        summary_.content_bytes += size;
    }

    void write_data(const std::string& path, const std::byte* data, std::size_t n) {
        const la_ssize_t written = archive_write_data(a_.get(), data, n);
        if (written < 0 || static_cast<std::size_t>(written) != n)
            fail(fmt::format("writing the content of {}", path));
    }

    const WriteOptions& options_;
    detail::ScopedUtf8Locale locale_;
    Output out_;
    detail::WriteArchive a_;
    detail::ArchiveEntry entry_;
    std::vector<std::byte> buffer_;
    Names names_;
    std::unordered_map<FileId, std::string, FileIdHash> links_;
    WriteSummary summary_;
};

}  // namespace

WriteSummary write_tar(const std::filesystem::path& root, io::Sink& sink,
                       const WriteOptions& options) {
    try {
        TarWriter writer(sink, options);
        return writer.run(root);
    } catch (Error& e) {
        e.with_context(fmt::format("while archiving {}", root.string()));
        throw;
    }
}

}  // namespace dolibak::tarball
