#include "packs/previous_index.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace dolibak::packs::detail {

namespace {

io::UniqueFd temp_file(const std::filesystem::path& dir_in) {
    const auto dir = dir_in.empty() ? std::filesystem::temp_directory_path() : dir_in;
    io::UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    // O_TMPFILE unsupported by this file system: a named file, unlinked at once.
    auto templ = (dir / "dolibak-index-XXXXXX").string();
    fd.reset(::mkostemp(templ.data(), O_CLOEXEC));
    if (!fd)
        throw IoError("cannot create a temporary file for the previous index", dir.string(), errno);
    ::unlink(templ.c_str());
    return fd;
}

/// Copies what is read to a descriptor.
class SpoolObserver final : public io::Observer {
public:
    explicit SpoolObserver(int fd) : fd_(fd) {}
    void update(io::Bytes data) override {
        auto p = reinterpret_cast<const char*>(data.data());
        auto left = data.size();
        while (left > 0) {
            const auto n = ::write(fd_, p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0)
                throw IoError("cannot write the previous index to a temporary file",
                              "(temporary file)", errno);
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }

private:
    int fd_;
};

}  // namespace

bool walk_less(std::string_view a, std::string_view b) noexcept {
    const auto n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] == b[i]) continue;
        // '/' ends a component: a shorter name sorts first ("a/x" before "a.txt")
        const auto ca =
            a[i] == '/' ? 0u : static_cast<unsigned>(static_cast<unsigned char>(a[i])) + 1;
        const auto cb =
            b[i] == '/' ? 0u : static_cast<unsigned>(static_cast<unsigned char>(b[i])) + 1;
        return ca < cb;
    }
    return a.size() < b.size();
}

PreviousIndex::PreviousIndex(io::Source& index, const std::filesystem::path& temp_dir,
                             const std::function<void(const IndexEntry&)>& learn,
                             const TreeAccess* tree)
    : spool_(temp_file(temp_dir)) {
    io::UniqueFd teed_copy;  ///< version 2: the index object's copy, kept open while read
    SpoolObserver copy(spool_.get());
    io::ObservedSource teed(index, {&copy});
    {
        IndexReader first(teed, tree);
        if (first.version() >= 2) {
            // The index object names the root piece only: the entries read from the pieces
            // are written whole (with each directory's piece) for the second reading.
            root_ = first.root();
            teed_copy = std::move(spool_);
            spool_ = temp_file(temp_dir);
            io::UniqueFd out(::dup(spool_.get()));
            if (!out) throw IoError("cannot write the previous index", "(temporary file)", errno);
            io::FdSink sink(std::move(out), "previous index (temporary)");
            IndexWriter again(sink, first.run());
            std::uint64_t top = 0;
            while (auto e = first.next()) {
                learn(*e);
                if (e->path.find('/') == std::string::npos) ++top;
                again.add(*e);
            }
            again.finish();
            root_entries_ = top;
        } else {
            while (auto e = first.next()) learn(*e);
        }
    }
    if (::lseek(spool_.get(), 0, SEEK_SET) != 0)
        throw IoError("cannot read back the previous index", "(temporary file)", errno);
    io::UniqueFd again(::dup(spool_.get()));
    if (!again) throw IoError("cannot read back the previous index", "(temporary file)", errno);
    source_ = std::make_unique<io::FdSource>(std::move(again), "previous index (temporary)");
}

PreviousIndex::~PreviousIndex() = default;

const IndexEntry* PreviousIndex::find(std::string_view path) {
    if (!started_) {
        reader_ = std::make_unique<IndexReader>(*source_);
        started_ = true;
        current_ = reader_->next();
        ended_ = !current_;
    }
    while (!ended_ && walk_less(current_->path, path)) {
        current_ = reader_->next();
        ended_ = !current_;
    }
    if (!ended_ && current_->path == path) return &*current_;
    return nullptr;
}

}  // namespace dolibak::packs::detail
