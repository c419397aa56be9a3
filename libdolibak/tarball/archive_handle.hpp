#pragma once
// Private: RAII for libarchive handles.
#include <archive.h>
#include <archive_entry.h>

#include <locale.h>

#include <memory>

namespace dolibak::tarball::detail {

struct WriteArchiveDeleter {
    void operator()(archive* a) const noexcept { archive_write_free(a); }
};
struct ReadArchiveDeleter {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};
using WriteArchive = std::unique_ptr<archive, WriteArchiveDeleter>;
using ReadArchive = std::unique_ptr<archive, ReadArchiveDeleter>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryDeleter>;

/// Makes this thread's character set UTF-8 while it lives (uselocale: the process's global
/// locale is untouched), so that libarchive stores and reads names as UTF-8 bytes whatever
/// the caller's locale, and never falls back to locale-dependent conversions.
class ScopedUtf8Locale {
public:
    ScopedUtf8Locale() {
        loc_ = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
        if (loc_ != static_cast<locale_t>(nullptr)) old_ = ::uselocale(loc_);
    }
    ~ScopedUtf8Locale() {
        if (loc_ != static_cast<locale_t>(nullptr)) {
            ::uselocale(old_);
            ::freelocale(loc_);
        }
    }
    ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
    ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

private:
    locale_t loc_ = static_cast<locale_t>(nullptr);
    locale_t old_ = static_cast<locale_t>(nullptr);
};

inline const char* error_text(archive* a) {
    const char* s = archive_error_string(a);
    return s != nullptr ? s : "unknown libarchive error";
}

}  // namespace dolibak::tarball::detail
