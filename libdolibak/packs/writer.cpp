#include "packs/blob_pool.hpp"
#include "packs/known_blobs.hpp"
#include "packs/pack_store.hpp"
#include "packs/previous_index.hpp"
#include "packs/tree_builder.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
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
#include <future>
#include <limits>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <tuple>
#include <unordered_map>

namespace dolibak::packs {

namespace {

using detail::Batch;
using detail::BlobLocation;
using detail::BlobWork;
using detail::Digest;

std::int64_t ns_of(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

constexpr std::uint64_t max_u32 = std::numeric_limits<std::uint32_t>::max();
/// A batch handed to the workers: this many bytes or blobs, whichever comes first.
constexpr std::size_t batch_bytes = 1024 * 1024;
constexpr std::size_t batch_blobs = 64;

/// An entry waiting for its place in the index: its blobs are still being hashed and
/// compressed, or their pack (or an earlier entry's) is not uploaded yet.
struct Waiting {
    IndexEntry entry;
    /// Blobs read, not taken back from the pool yet. While its file is read, an entry always
    /// has one (the blob just read is in the batch when submit() consumes), so it is never
    /// written to the index half-read.
    std::size_t outstanding = 0;
    detail::Previous previous;  ///< what the previous run had at its path (version 2)
};

/// Blobs of the current pack are referenced with an empty `pack` until the pack is uploaded.
class Builder {
public:
    Builder(store::Store& store, io::Sink& index_sink, std::string_view run,
            const WriterOptions& options)
        : store_(store),
          index_sink_(index_sink),
          run_(run),
          options_(options),
          pool_(options.threads, options.level, [this](const Digest& sha) {
              std::shared_lock lock(known_mutex_);
              return known_.find(sha) != nullptr;
          }) {
        if (options.index_version == 1)
            index_.emplace(index_sink, run);
        else
            tree_.emplace([this](const std::string& text, bool relative) {
                return store_piece(text, relative);
            });
        // The pack buffers are reserved once at their largest (pack_size and one more frame):
        // appending never reallocates, so a full pack is never held twice while it is copied
        // into a larger buffer. Reserved pages stay out of the resident set until written.
        const std::size_t most = options.pack_size + ZSTD_compressBound(options.blob_size);
        pack_.reserve(most);
        uploading_.reserve(most);
        if (tree_) tree_pack_.reserve(most);
    }

    /// A piece of the previous tree, known by the digest of its text with its references to
    /// pieces of its own pack (".") resolved: the text this run writes for the same entries
    /// (it never writes "." for a piece of an earlier run).
    void learn_piece(const BlobRef& ref, std::string_view text) {
        static constexpr std::string_view same = R"("pack":".")";
        std::string resolved;
        bool relative = false;
        for (std::size_t pos = 0;;) {
            const auto at = text.find(same, pos);
            resolved.append(text.substr(pos, at - pos));
            if (at == std::string_view::npos) break;
            relative = true;
            resolved += R"("pack":")" + ref.pack + '"';
            pos = at + same.size();
        }
        BlobRef b = ref;
        if (moved_ && !present_.contains(b.pack)) moved_->locate(b, present_);
        if (!usable(b.pack) || b.offset > max_u32 || b.length > max_u32) return;
        auto [it, added] = pack_numbers_.try_emplace(b.pack, 0);
        if (added) {
            it->second = static_cast<std::uint32_t>(pack_keys_.size());
            pack_keys_.push_back(b.pack);
        }
        const auto sha =
            relative ? detail::digest_of(io::sha256_bytes(resolved)) : hex_digest(b.sha256);
        if (known_pieces_.insert(sha, {it->second, static_cast<std::uint32_t>(b.offset),
                                       static_cast<std::uint32_t>(b.length)}) &&
            relative)
            stored_as_.emplace(std::string(reinterpret_cast<const char*>(sha.data()), sha.size()),
                               std::make_pair(ref.sha256, ref.size));
    }
    /// A previous piece this run may refer to: its pack (after the move records) usable.
    bool usable_piece(const BlobRef& ref) {
        if (ref.sha256.empty()) return false;
        BlobRef b = ref;
        if (moved_ && !present_.contains(b.pack)) moved_->locate(b, present_);
        return usable(b.pack);
    }

    /// The previous index's blobs whose pack is present (or whose repacked pack's frames are,
    /// through the move records) become known.
    void learn(const IndexEntry& e) {
        if (e.type != EntryType::file) return;
        const auto& blobs = located(e.blobs);
        for (const auto& b : blobs)
            if (!usable(b.pack)) return;
        for (const auto& b : blobs) {
            if (b.offset > max_u32 || b.length > max_u32) continue;  // not ours: stored again
            auto [it, added] = pack_numbers_.try_emplace(b.pack, 0);
            if (added) {
                it->second = static_cast<std::uint32_t>(pack_keys_.size());
                pack_keys_.push_back(b.pack);
            }
            const auto sha = hex_digest(b.sha256);
            std::unique_lock lock(known_mutex_);
            known_.insert(sha, {it->second, static_cast<std::uint32_t>(b.offset),
                                static_cast<std::uint32_t>(b.length)});
        }
    }
    /// A pack of an earlier run this run may reference: present, and encrypted exactly when
    /// this run encrypts (a plain pack is never referenced by an encrypted run, nor the other
    /// way round).
    bool usable(const std::string& pack) const {
        return present_.contains(pack) &&
               is_encrypted_pack(pack) == options_.encrypt_to.has_value();
    }
    /// The packs in the store, and the move records of those repacked (`moved`, kept by the
    /// caller until finish).
    void set_present(std::set<std::string> packs, Relocations* moved) {
        present_ = std::move(packs);
        moved_ = moved;
    }
    void set_previous(std::unique_ptr<detail::PreviousIndex> p) {
        previous_ = std::move(p);
        if (tree_ && previous_->root() && usable_piece(*previous_->root())) {
            detail::Previous root;
            root.piece = *previous_->root();
            root.piece_entries = previous_->root_entries();
            tree_->set_root_previous(std::move(root));
        }
    }
    /// Drops what learn() gathered (a previous index that turned out unreadable).
    void forget() {
        previous_.reset();
        if (tree_) tree_->set_root_previous({});
        std::unique_lock lock(known_mutex_);
        known_.clear();
        pack_keys_.clear();
        known_pieces_.clear();
        stored_as_.clear();
        content_no_ = tree_no_ = no_number;
        pack_numbers_.clear();
    }
    /// The table of pack keys is only needed while loading; the pack numbers stay.
    void loaded() { std::unordered_map<std::string, std::uint32_t>().swap(pack_numbers_); }

    void entry(const tarball::WalkEntry& w) {
        if (options_.cancel) options_.cancel->check("backing up the documents (packs)");
        auto& waiting = queue_.emplace_back();
        auto& e = waiting.entry;
        e.path = w.path;
        e.mode = w.st.st_mode & 07777;
        e.uid = w.st.st_uid;
        e.gid = w.st.st_gid;
        e.mtime_ns = ns_of(w.st.st_mtim);
        const IndexEntry* p = previous_ ? previous_->find(w.path) : nullptr;
        const bool same_meta = p && p->mode == e.mode && p->uid == e.uid && p->gid == e.gid &&
                               p->mtime_ns == e.mtime_ns;
        if (S_ISDIR(w.st.st_mode)) {
            e.type = EntryType::directory;
            if (p && p->type == EntryType::directory) {
                waiting.previous.same = same_meta;
                if (usable_piece(p->piece)) {
                    waiting.previous.piece = p->piece;
                    waiting.previous.piece_entries = p->piece_entries;
                }
            }
        } else if (S_ISLNK(w.st.st_mode)) {
            e.type = EntryType::symlink;
            e.target = w.link_target;
            waiting.previous.same =
                same_meta && p->type == EntryType::symlink && p->target == e.target;
        } else if (S_ISREG(w.st.st_mode)) {
            e.type = EntryType::file;
            e.ctime_ns = ns_of(w.st.st_ctim);
            e.inode = w.st.st_ino;
            if (reuse(e, p, static_cast<std::uint64_t>(w.st.st_size))) {
                waiting.previous.same = same_meta && e.blobs == p->blobs;
            } else if (!read_file(waiting, w)) {
                queue_.pop_back();  // unreadable and skipped: nothing of it was submitted
                return;
            }
        } else {
            queue_.pop_back();
            warn(w.path, "not a regular file, directory or symlink: skipped");
            return;
        }
        collect(false);
        if (++since_complete_ >= options_.max_waiting) {
            // Bounds the entries waiting (a partial batch, the current pack) whatever the tree:
            // everything read so far is completed and, if an entry still waits for the
            // current pack, the pack goes early. Counted in entries, so the packs do not
            // depend on the threads' timing.
            since_complete_ = 0;
            complete();
            drain();
            if (!queue_.empty()) flush_pack();
        }
        drain();
    }

    WriterSummary finish() {
        complete();
        flush_pack();
        wait_upload();
        drain();
        if (!queue_.empty()) throw FormatError("packs: entries left unwritten (internal error)");
        // The content is all stored: its pack buffers go before the last pieces are written
        // (the run's peak memory was here, with the table of known blobs at its fullest).
        std::string().swap(pack_);
        std::string().swap(uploading_);
        std::string().swap(sealed_);
        if (index_) {
            index_->finish();
            summary_.totals = index_->totals();
            return summary_;
        }
        // The pieces go in their own packs, uploaded before the index that names the root.
        tree_->finish();
        flush_tree();
        if (tree_->root().pack.empty())
            throw FormatError("packs: the root piece has no pack (internal error)");
        summary_.totals = tree_->totals();
        summary_.pieces_kept = tree_->pieces_kept();
        finishing_ = true;
        write_tree_index(index_sink_, run_, tree_->root(), summary_.totals);
        return summary_;
    }
    void abort() noexcept {
        if (index_)
            index_->abort();
        else if (!finishing_)
            index_sink_.abort();
    }

private:
    static Digest hex_digest(const std::string& hex) {
        Digest d;
        auto nib = [](char c) -> unsigned {
            return c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'a' + 10);
        };
        for (std::size_t i = 0; i < d.size(); ++i)
            d[i] = static_cast<unsigned char>(nib(hex[2 * i]) * 16 + nib(hex[2 * i + 1]));
        return d;  // the index reader checked: 64 lower-case hexadecimal digits
    }

    bool reuse(IndexEntry& e, const IndexEntry* p, std::uint64_t size) {
        if (!p || p->type != EntryType::file) return false;
        if (p->size != size || p->mtime_ns != e.mtime_ns || p->ctime_ns != e.ctime_ns ||
            p->inode != e.inode)
            return false;
        const auto& blobs = located(p->blobs);
        for (const auto& b : blobs)
            if (!usable(b.pack)) return false;
        e.size = p->size;
        e.blobs = blobs;
        return true;
    }

    /// `blobs` themselves when each one's pack is present, else a copy in which the blobs of
    /// missing packs are followed through the move records (each loaded once).
    const std::vector<BlobRef>& located(const std::vector<BlobRef>& blobs) {
        bool all = true;
        for (const auto& b : blobs) all = all && present_.contains(b.pack);
        if (all || !moved_) return blobs;
        relocated_ = blobs;
        for (auto& b : relocated_) moved_->locate(b, present_);
        return relocated_;
    }

    /// False: the file cannot be opened and skip_unreadable leaves it out (warned).
    bool read_file(Waiting& waiting, const tarball::WalkEntry& w) {
        auto& e = waiting.entry;
        io::UniqueFd fd(tarball::open_for_reading(w.parent_fd, w.name));
        if (!fd) {
            if (!options_.skip_unreadable) throw IoError("cannot open a document", w.path, errno);
            warn(w.path, fmt::format("cannot open: {} (skipped)", errno_text(errno)));
            return false;
        }
        io::FdSource file(std::move(fd), w.path);
        ++summary_.files_read;
        buf_.resize(options_.blob_size);
        for (;;) {
            const auto got =
                io::read_full(file, std::as_writable_bytes(std::span(buf_.data(), buf_.size())));
            if (got == 0) break;
            e.size += got;
            BlobWork work;
            work.data.assign(buf_.data(), got);
            work.owner = &waiting;
            ++waiting.outstanding;
            batch_size_ += got;
            batch_.push_back(std::move(work));
            if (batch_size_ >= batch_bytes || batch_.size() >= batch_blobs) submit();
            if (got < buf_.size()) break;
            if (options_.cancel) options_.cancel->check("backing up the documents (packs)");
        }
        if (e.size != static_cast<std::uint64_t>(w.st.st_size))
            warn(w.path, fmt::format("changed size during the walk: {} bytes stored", e.size));
        return true;
    }

    /// Hands the current batch to the pool, once fewer than max_in_flight() batches are out.
    void submit() {
        if (batch_.empty()) return;
        while (pool_.in_flight() >= max_in_flight())
            if (auto done = pool_.take(true)) consume(*done);
        pool_.submit(std::move(batch_));
        batch_ = {};
        batch_size_ = 0;
    }
    std::size_t max_in_flight() const { return pool_.threads() + 1; }

    /// Takes back the batches that are done (with `wait`: every batch).
    void collect(bool wait) {
        while (auto done = pool_.take(wait)) consume(*done);
    }
    /// Every blob read so far is hashed, compressed and in the pack (or known).
    void complete() {
        submit();
        collect(true);
    }

    /// Blobs come back in the order they were read: each is referenced (known content) or
    /// its frame appended to the current pack.
    void consume(Batch& batch) {
        for (auto& w : batch) {
            auto& waiting = *static_cast<Waiting*>(w.owner);
            BlobRef r;
            r.sha256 = io::to_hex(std::as_bytes(std::span(w.sha)));
            r.size = w.size;
            if (const auto* at = known_.find(w.sha)) {
                place(r, *at);
            } else {
                if (w.frame.empty()) w.frame = detail::compress_frame(w.data, options_.level);
                const BlobLocation where{current_pack(), static_cast<std::uint32_t>(pack_.size()),
                                         static_cast<std::uint32_t>(w.frame.size())};
                pack_ += w.frame;
                {
                    std::unique_lock lock(known_mutex_);
                    known_.insert(w.sha, where);
                }
                place(r, where);
                ++summary_.blobs_new;
                summary_.bytes_new += w.size;
            }
            waiting.entry.blobs.push_back(std::move(r));
            --waiting.outstanding;
            if (pack_.size() >= options_.pack_size) flush_pack();
        }
    }

    /// The number of the content pack being filled (its key is empty until it is named).
    std::uint32_t current_pack() { return number(content_no_); }
    std::uint32_t number(std::uint32_t& slot) {
        if (slot == no_number) {
            slot = static_cast<std::uint32_t>(pack_keys_.size());
            pack_keys_.emplace_back();
        }
        return slot;
    }
    void place(BlobRef& r, const BlobLocation& at) const {
        r.pack = pack_keys_.at(at.pack);  // empty: a pack being filled
        r.offset = at.offset;
        r.length = at.length;
    }

    /// Names the current pack by its content and uploads it; with worker threads, the upload
    /// runs beside the next pack's filling (one upload at a time: two packs in memory). The
    /// index, finished only after the last upload, may already name it.
    void flush_pack() {
        if (pack_.empty()) return;
        // Encrypted, the pack is named by the digest of the bytes stored (its ciphertext),
        // so it is encrypted into memory first (one buffer for the run, sized for the
        // 16-byte tag of each 64 KiB chunk and the header).
        const std::string key = detail::seal_and_name(
            pack_, options_.encrypt_to ? &*options_.encrypt_to : nullptr, sealed_);
        wait_upload();
        uploading_.swap(options_.encrypt_to ? sealed_ : pack_);
        pack_.clear();
        if (options_.threads == 0)
            detail::put_pack(store_, key, uploading_);
        else
            upload_ = std::async(std::launch::async,
                                 [this, key] { detail::put_pack(store_, key, uploading_); });
        ++summary_.packs_uploaded;
        summary_.pack_bytes += uploading_.size();
        for (auto& q : queue_)
            for (auto& b : q.entry.blobs)
                if (b.pack.empty()) b.pack = key;
        pack_keys_[current_pack()] = key;  // the current pack's number now names it
        content_no_ = no_number;
        drain();
    }

    /// Names the pack of pieces by its content and uploads it (a run's pieces are few: at
    /// once, in this thread, after the content's upload in flight); the open directories'
    /// references to its pieces get its key.
    void flush_tree() {
        if (tree_pack_.empty()) return;
        wait_upload();
        const std::string key = detail::seal_and_name(
            tree_pack_, options_.encrypt_to ? &*options_.encrypt_to : nullptr, sealed_tree_);
        detail::put_pack(store_, key, options_.encrypt_to ? sealed_tree_ : tree_pack_);
        ++summary_.packs_uploaded;
        summary_.pack_bytes += options_.encrypt_to ? sealed_tree_.size() : tree_pack_.size();
        tree_pack_.clear();
        pack_keys_[number(tree_no_)] = key;
        tree_no_ = no_number;
        tree_->pack_named(key);
    }

    /// A piece of this run's tree: referenced where it is when the same bytes are known (and
    /// mean the same anywhere: no reference to its own pack), else appended to the current
    /// pack (a reference with an empty pack until the pack is named).
    BlobRef store_piece(const std::string& text, bool relative) {
        const auto raw = io::sha256_bytes(text);
        const auto sha = detail::digest_of(raw);
        BlobRef r;
        r.sha256 = io::to_hex(io::as_bytes(raw));
        r.size = text.size();
        if (!relative)
            if (const auto* at = known_pieces_.find(sha)) {
                place(r, *at);
                // A piece stored with "." for its own pack: its own digest and size.
                if (auto it = stored_as_.find(raw); it != stored_as_.end())
                    std::tie(r.sha256, r.size) = it->second;
                return r;
            }
        const auto frame = detail::compress_frame(text, options_.level);
        const BlobLocation where{number(tree_no_), static_cast<std::uint32_t>(tree_pack_.size()),
                                 static_cast<std::uint32_t>(frame.size())};
        tree_pack_ += frame;
        if (!relative) known_pieces_.insert(sha, where);
        place(r, where);
        ++summary_.pieces_new;
        summary_.piece_bytes += frame.size();
        return r;
    }

    /// Waits for the pack being uploaded, rethrowing its failure.
    void wait_upload() {
        if (upload_.valid()) upload_.get();
        if (options_.cancel) options_.cancel->check("uploading the documents' packs");
    }

    void drain() {
        while (!queue_.empty()) {
            const auto& front = queue_.front();
            if (front.outstanding > 0) return;
            for (const auto& b : front.entry.blobs)
                if (b.pack.empty()) return;
            if (index_)
                index_->add(front.entry);
            else
                tree_->add(std::move(queue_.front().entry), front.previous);
            queue_.pop_front();
            if (tree_ && tree_pack_.size() >= options_.pack_size) flush_tree();
        }
    }

    void warn(const std::string& path, const std::string& what) {
        if (options_.on_warning) options_.on_warning(fmt::format("{}: {}", path, what));
    }

    store::Store& store_;
    io::Sink& index_sink_;
    std::string run_;
    std::optional<IndexWriter> index_;         ///< version 1: written whole
    std::optional<detail::TreeBuilder> tree_;  ///< version 2: a tree of pieces
    bool finishing_ = false;                   ///< the index object is being written
    const WriterOptions& options_;
    WriterSummary summary_;
    std::set<std::string> present_;
    Relocations* moved_ = nullptr;
    std::vector<BlobRef> relocated_;  ///< located()'s copy
    std::unique_ptr<detail::PreviousIndex> previous_;
    std::shared_mutex known_mutex_;  ///< the workers read known_; only this thread writes it
    detail::KnownBlobs known_;
    detail::KnownBlobs known_pieces_;  ///< the index's pieces (only the walk's thread)
    /// Pieces of the previous tree stored with "." (known by their resolved text's digest):
    /// that digest (raw) -> the stored text's digest (hex) and size.
    std::unordered_map<std::string, std::pair<std::string, std::uint64_t>> stored_as_;
    static constexpr std::uint32_t no_number = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t content_no_ = no_number;  ///< the content pack being filled, once numbered
    std::uint32_t tree_no_ = no_number;     ///< the pack of pieces being filled, once numbered
    std::string tree_pack_;                 ///< pieces (version 2)
    std::string sealed_tree_;               ///< it encrypted (encrypt_to)
    std::vector<std::string> pack_keys_;    ///< pack number -> key ("": being filled)
    std::unordered_map<std::string, std::uint32_t> pack_numbers_;
    std::deque<Waiting> queue_;
    std::string pack_;
    std::string sealed_;        ///< the current pack encrypted (encrypt_to)
    std::string uploading_;     ///< the pack being uploaded (encrypted with encrypt_to)
    std::future<void> upload_;  ///< its upload (its destructor waits for it)
    std::string buf_;
    Batch batch_;
    std::size_t batch_size_ = 0;
    std::size_t since_complete_ = 0;  ///< entries since everything was last completed
    detail::BlobPool pool_;           ///< last: its workers stop before what they read goes away
};

}  // namespace

WriterSummary write_tree(store::Store& store, const std::filesystem::path& root,
                         io::Sink& index_sink, std::string_view run, io::Source* previous,
                         const WriterOptions& options) {
    if (options.blob_size == 0 || options.pack_size == 0)
        throw ConfigError("packs: the blob and pack sizes must be positive");
    if (options.pack_size + ZSTD_compressBound(options.blob_size) > max_u32)
        throw ConfigError("packs: the pack size and the blob size must stay below 2 GiB each");
    if (options.threads > 64) throw ConfigError("packs: at most 64 compression threads");
    if (options.max_waiting == 0) throw ConfigError("packs: max_waiting must be positive");
    Relocations moved(store, options.identities);
    Builder builder(store, index_sink, run, options);
    try {
        if (previous) {
            std::set<std::string> present, records;
            for (const auto& o : store.list("packs/"))
                (is_moved_key(o.key) ? records : present).insert(o.key);
            // A blob of a repacked pack is referenced where it is now.
            moved.set_existing(std::move(records));
            builder.set_present(std::move(present), &moved);
            try {
                TreeAccess tree;
                tree.store = &store;
                tree.identities = options.identities;
                tree.moved = &moved;
                tree.on_piece_read = [&](const BlobRef& ref, std::string_view text) {
                    builder.learn_piece(ref, text);
                };
                builder.set_previous(std::make_unique<detail::PreviousIndex>(
                    *previous, options.temp_dir, [&](const IndexEntry& e) { builder.learn(e); },
                    &tree));
                builder.loaded();
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
        std::uint64_t excluded = 0;
        std::vector<tarball::Exclusion> exclusions;
        for (const auto& p : excludes.patterns()) exclusions.push_back({p, 0, 0});
        tarball::WalkHandlers h;
        h.entry = [&](const tarball::WalkEntry& w) { builder.entry(w); };
        h.excluded = [&](const std::string&, int pattern, std::uint64_t files,
                         std::uint64_t bytes) {
            ++excluded;
            auto& x = exclusions.at(static_cast<std::size_t>(pattern));
            x.files += files;
            x.bytes += bytes;
        };
        h.vanished = [&](const std::string& path, int) {
            if (options.on_warning) options.on_warning(path + ": vanished during the walk");
        };
        h.unreadable = [&options](const std::string& path, const std::string& what, int err) {
            if (!options.skip_unreadable) throw IoError(what, path, err);
            if (options.on_warning)
                options.on_warning(
                    fmt::format("{}: {}: {} (skipped)", path, what, errno_text(err)));
        };
        tarball::walk(root, excludes, h);
        auto summary = builder.finish();
        summary.excluded = excluded;
        summary.exclusions = std::move(exclusions);
        return summary;
    } catch (...) {
        builder.abort();
        throw;
    }
}

}  // namespace dolibak::packs
