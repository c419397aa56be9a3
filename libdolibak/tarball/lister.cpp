#include <dolibak/tarball/lister.hpp>

#include "tarball/reader.hpp"

#include <dolibak/core/error.hpp>

#include <sys/stat.h>

namespace dolibak::tarball {

std::string to_string(EntryType t) {
    switch (t) {
        case EntryType::file:
            return "file";
        case EntryType::directory:
            return "directory";
        case EntryType::symlink:
            return "symlink";
        case EntryType::hardlink:
            return "hardlink";
        case EntryType::character_device:
            return "chardev";
        case EntryType::block_device:
            return "blockdev";
        case EntryType::fifo:
            return "fifo";
        case EntryType::socket:
            return "socket";
        case EntryType::other:
            return "other";
    }
    return "other";
}

namespace detail {
EntryType entry_type(archive_entry* e) {
    if (archive_entry_hardlink(e) != nullptr) return EntryType::hardlink;
    switch (archive_entry_filetype(e)) {
        case AE_IFREG:
            return EntryType::file;
        case AE_IFDIR:
            return EntryType::directory;
        case AE_IFLNK:
            return EntryType::symlink;
        case AE_IFCHR:
            return EntryType::character_device;
        case AE_IFBLK:
            return EntryType::block_device;
        case AE_IFIFO:
            return EntryType::fifo;
        case AE_IFSOCK:
            return EntryType::socket;
        default:
            return EntryType::other;
    }
}
}  // namespace detail

ListSummary list_tar(io::Source& archive_source,
                     const std::function<void(const Entry&)>& on_entry) {
    detail::SourceReader reader(archive_source);
    ListSummary s;
    std::vector<std::byte> buffer(io::default_buffer_size);
    archive_entry* ae = nullptr;
    Entry e;
    while (reader.next(&ae)) {
        const char* path = archive_entry_pathname(ae);
        e.path = path != nullptr ? path : "";
        e.type = detail::entry_type(ae);
        e.size =
            archive_entry_size_is_set(ae) ? static_cast<std::uint64_t>(archive_entry_size(ae)) : 0;
        e.mode = static_cast<unsigned>(archive_entry_perm(ae)) & 07777u;
        e.mtime_sec = archive_entry_mtime(ae);
        e.mtime_nsec = archive_entry_mtime_nsec(ae);
        const char* link = e.type == EntryType::hardlink  ? archive_entry_hardlink(ae)
                           : e.type == EntryType::symlink ? archive_entry_symlink(ae)
                                                          : nullptr;
        e.link_target = link != nullptr ? link : "";
        e.uid = archive_entry_uid(ae);
        e.gid = archive_entry_gid(ae);
        const char* u = archive_entry_uname(ae);
        const char* g = archive_entry_gname(ae);
        e.uname = u != nullptr ? u : "";
        e.gname = g != nullptr ? g : "";
        ++s.entries;
        switch (e.type) {
            case EntryType::file:
                ++s.files;
                s.content_bytes += e.size;
                break;
            case EntryType::directory:
                ++s.directories;
                break;
            case EntryType::symlink:
                ++s.symlinks;
                break;
            case EntryType::hardlink:
                ++s.hardlinks;
                break;
            default:
                ++s.other;
                break;
        }
        if (on_entry) on_entry(e);
        // Read every byte: this is what checks the compression stream and the framing.
        while (reader.read_data(buffer, e.path) > 0) {
        }
    }
    if (s.entries == 0 && archive_format(reader.get()) == 0)
        throw FormatError("not a tar archive (empty input)", 0);
    reader.finish();
    s.archive_bytes = reader.source_bytes();
    s.tar_bytes = static_cast<std::uint64_t>(archive_filter_bytes(reader.get(), 0));
    s.compression = reader.compression();
    const char* fmt_name = archive_format_name(reader.get());
    s.format = fmt_name != nullptr ? fmt_name : "";
    return s;
}

}  // namespace dolibak::tarball
