#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/tarball/excludes.hpp>
#include <dolibak/tarball/walk.hpp>

#include <fmt/format.h>
#include <unistd.h>
#include <zstd.h>

#include <deque>
#include <set>
#include <unordered_map>

namespace dolibak::packs {

namespace {

std::int64_t ns_of(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

/// Blobs of the current pack are referenced with an empty `pack` until the pack is uploaded.
class Builder {
public:
    Builder(store::Store& store, io::Sink& index_sink, std::string_view run,
            const WriterOptions& options)
        : store_(store), index_(index_sink, run), options_(options) {}

    void learn(std::string_view path, const IndexEntry& e) {
        if (e.type != EntryType::file) return;
        for (const auto& b : e.blobs)
            if (!present_.contains(b.pack)) return;
        for (const auto& b : e.blobs) known_.try_emplace(b.sha256, b);
        previous_.emplace(std::string(path), e);
    }
    void set_present(std::set<std::string> packs) { present_ = std::move(packs); }
    /// Drops what learn() gathered (a previous index that turned out unreadable).
    void forget() {
        previous_.clear();
        known_.clear();
    }

    void entry(const tarball::WalkEntry& w) {
        if (options_.cancel) options_.cancel->check("backing up the documents (packs)");
        IndexEntry e;
        e.path = w.path;
        e.mode = w.st.st_mode & 07777;
        e.uid = w.st.st_uid;
        e.gid = w.st.st_gid;
        e.mtime_ns = ns_of(w.st.st_mtim);
        if (S_ISDIR(w.st.st_mode)) {
            e.type = EntryType::directory;
        } else if (S_ISLNK(w.st.st_mode)) {
            e.type = EntryType::symlink;
            e.target = w.link_target;
        } else if (S_ISREG(w.st.st_mode)) {
            e.type = EntryType::file;
            e.ctime_ns = ns_of(w.st.st_ctim);
            e.inode = w.st.st_ino;
            if (!reuse(e, w)) read_file(e, w);
        } else {
            warn(w.path, "not a regular file, directory or symlink: skipped");
            return;
        }
        queue_.push_back(std::move(e));
        if (pack_.empty()) drain();
    }

    WriterSummary finish() {
        flush_pack();
        drain();
        index_.finish();
        summary_.totals = index_.totals();
        return summary_;
    }
    void abort() noexcept { index_.abort(); }

private:
    bool reuse(IndexEntry& e, const tarball::WalkEntry& w) {
        auto it = previous_.find(w.path);
        if (it == previous_.end()) return false;
        const auto& p = it->second;
        if (p.size != static_cast<std::uint64_t>(w.st.st_size) || p.mtime_ns != e.mtime_ns ||
            p.ctime_ns != e.ctime_ns || p.inode != e.inode)
            return false;
        e.size = p.size;
        e.blobs = p.blobs;
        return true;
    }

    void read_file(IndexEntry& e, const tarball::WalkEntry& w) {
        io::UniqueFd fd(tarball::open_for_reading(w.parent_fd, w.name));
        if (!fd) throw IoError("cannot open a document", w.path, errno);
        io::FdSource file(std::move(fd), w.path);
        ++summary_.files_read;
        buf_.resize(options_.blob_size);
        for (;;) {
            const auto got =
                io::read_full(file, std::as_writable_bytes(std::span(buf_.data(), buf_.size())));
            if (got == 0) break;
            add_blob(e, std::string_view(buf_.data(), got));
            if (got < buf_.size()) break;
        }
        if (e.size != static_cast<std::uint64_t>(w.st.st_size))
            warn(w.path, fmt::format("changed size during the walk: {} bytes stored", e.size));
    }

    void add_blob(IndexEntry& e, std::string_view data) {
        const auto sha = io::to_hex(io::as_bytes(io::sha256_bytes(data)));
        e.size += data.size();
        if (auto it = known_.find(sha); it != known_.end()) {
            e.blobs.push_back(it->second);
            return;
        }
        if (auto it = pending_.find(sha); it != pending_.end()) {
            e.blobs.push_back(it->second);
            return;
        }
        const auto bound = ZSTD_compressBound(data.size());
        const auto at = pack_.size();
        pack_.resize(at + bound);
        const auto n =
            ZSTD_compress(pack_.data() + at, bound, data.data(), data.size(), options_.level);
        if (ZSTD_isError(n)) throw FormatError(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
        pack_.resize(at + n);
        BlobRef r{sha, {}, at, n, data.size()};
        pending_.emplace(sha, r);
        e.blobs.push_back(r);
        ++summary_.blobs_new;
        summary_.bytes_new += data.size();
        if (pack_.size() >= options_.pack_size) {
            flush_pack();
            for (auto& b : e.blobs) resolve(b);
        }
    }

    void resolve(BlobRef& b) const {
        if (b.pack.empty()) b.pack = current_key_;
    }

    void flush_pack() {
        if (pack_.empty()) return;
        const auto sha = io::sha256_hex(pack_);
        current_key_ = pack_key(sha);
        store::PutOptions po;
        po.size_hint = pack_.size();
        po.no_overwrite = true;
        try {
            auto sink = store_.put(current_key_, po);
            sink->write(io::as_bytes(pack_));
            sink->finish();
        } catch (const store::AlreadyExists&) {
            // Same name, same content: a pack of an interrupted run, or the same bytes again.
        }
        ++summary_.packs_uploaded;
        summary_.pack_bytes += pack_.size();
        for (auto& q : queue_)
            for (auto& b : q.blobs) resolve(b);
        for (auto& [sha_hex, r] : pending_) {
            r.pack = current_key_;
            known_.emplace(sha_hex, r);
        }
        pending_.clear();
        pack_.clear();
        drain();
    }

    void drain() {
        while (!queue_.empty()) {
            for (const auto& b : queue_.front().blobs)
                if (b.pack.empty()) return;
            index_.add(queue_.front());
            queue_.pop_front();
        }
    }

    void warn(const std::string& path, const std::string& what) {
        if (options_.on_warning) options_.on_warning(fmt::format("{}: {}", path, what));
    }

    store::Store& store_;
    IndexWriter index_;
    const WriterOptions& options_;
    WriterSummary summary_;
    std::set<std::string> present_;
    std::unordered_map<std::string, IndexEntry> previous_;
    std::unordered_map<std::string, BlobRef> known_;
    std::unordered_map<std::string, BlobRef> pending_;
    std::deque<IndexEntry> queue_;
    std::string pack_;
    std::string current_key_;
    std::string buf_;
};

}  // namespace

WriterSummary write_tree(store::Store& store, const std::filesystem::path& root,
                         io::Sink& index_sink, std::string_view run, io::Source* previous,
                         const WriterOptions& options) {
    if (options.blob_size == 0 || options.pack_size == 0)
        throw ConfigError("packs: the blob and pack sizes must be positive");
    Builder builder(store, index_sink, run, options);
    try {
        if (previous) {
            std::set<std::string> present, records;
            for (const auto& o : store.list("packs/"))
                (is_moved_key(o.key) ? records : present).insert(o.key);
            builder.set_present(present);
            try {
                // A blob of a repacked pack is referenced where it is now.
                Relocations moved(store);
                moved.set_existing(std::move(records));
                IndexReader reader(*previous);
                while (auto e = reader.next()) {
                    for (auto& b : e->blobs) moved.locate(b, present);
                    builder.learn(e->path, *e);
                }
            } catch (const FormatError& e) {
                // Costs an upload of everything, loses nothing.
                builder.forget();
                if (options.on_warning)
                    options.on_warning(std::string("the previous index cannot be read (every "
                                                   "file is read and stored again): ") +
                                       e.what());
            }
        }
        tarball::ExcludeMatcher excludes(options.excludes);
        tarball::WalkHandlers h;
        h.entry = [&](const tarball::WalkEntry& w) { builder.entry(w); };
        h.vanished = [&](const std::string& path, int) {
            if (options.on_warning) options.on_warning(path + ": vanished during the walk");
        };
        h.unreadable = [](const std::string& path, const std::string& what, int err) {
            throw IoError(what, path, err);
        };
        tarball::walk(root, excludes, h);
        return builder.finish();
    } catch (...) {
        builder.abort();
        throw;
    }
}

}  // namespace dolibak::packs
