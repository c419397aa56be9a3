// libFuzzer target: the documents extractor, given any archive bytes, extracts them or refuses
// them with a dolibak::Error, and never writes outside the directory it was given.
//
// Each input is extracted into a fresh directory, <sandbox>/run/t, removed afterwards. Every
// call of the library that changes the file system (open for writing, mkdir, symlink, link,
// unlink, rename, chmod, utimes, ...) is routed through a check by the linker
// (-Wl,--wrap=<name>, tests/fuzz/CMakeLists.txt): the path it acts on is resolved as the
// kernel would (every component but the last followed; the last too when the call follows
// it), and one outside <sandbox>/run is a finding (trap), before the call is made; write()
// goes through a per-input cap (write_cap, below). After the
// extraction: a failure must leave nothing behind (no target, no staging directory; a target
// that existed is untouched), a success must hold no symlink that leads out of the target,
// and <sandbox>/outside, next to run, must be unchanged.
//
// The first byte chooses the options (in place, strip_components, subtree, modes, times,
// whether the target exists already, and whether the harness zstd-compresses the rest first
// so that mutated tar data also goes through the decompression); the rest is the archive.
#include <dolibak/core/error.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/tarball/extractor.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

namespace fs = std::filesystem;

namespace {

struct Sandbox {
    std::string root;     // <tmp>/dolibak-fuzz-tar-XXXXXX
    std::string allowed;  // root/run: the only place the library may change
    std::string outside;  // root/outside: a neighbour that must stay as it is
    bool checking = false;
    // Bytes the library wrote during this input, and how many inputs met the cap below.
    std::uint64_t written = 0;
    std::uint64_t capped = 0;
};

// An archive of a few KiB may still declare a sparse file of any size, which libarchive fills
// with zeros: past this many bytes per input, write() fails with ENOSPC as on a full disk
// (the extraction must then fail cleanly, like any other), so that the fuzzer never fills
// the machine's disk. How often that happened is printed at exit.
constexpr std::uint64_t write_cap = 16 << 20;

Sandbox& sandbox() {
    static Sandbox s;
    return s;
}

[[noreturn]] void finding(const char* what, const std::string& path) {
    std::fprintf(stderr, "\n*** fuzz_tar_extractor: %s: %s\n", what, path.c_str());
    __builtin_trap();
}

bool within(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}

std::string fd_path(int fd) {
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char buf[PATH_MAX + 1];
    const ssize_t n = ::readlink(link, buf, PATH_MAX);
    if (n < 0) finding("cannot resolve a descriptor the library acts on", link);
    return std::string(buf, static_cast<std::size_t>(n));
}

// The path (dirfd, name) designates, resolved as the kernel resolves it: every component but
// the last is followed; the last too when `follow`.
std::string resolve(int dirfd, const char* name, bool follow) {
    fs::path full;
    if (name[0] == '/')
        full = name;
    else if (dirfd == AT_FDCWD)
        full = fs::current_path() / name;
    else
        full = fs::path(fd_path(dirfd)) / name;
    std::error_code ec;
    fs::path resolved;
    if (follow) {
        resolved = fs::weakly_canonical(full, ec);
    } else {
        const fs::path leaf = full.lexically_normal().filename();
        resolved = fs::weakly_canonical(full.lexically_normal().parent_path(), ec) / leaf;
    }
    if (ec) finding("cannot resolve a path the library acts on", full.string());
    return resolved.lexically_normal().string();
}

void check(int dirfd, const char* name, bool follow, const char* call) {
    Sandbox& s = sandbox();
    if (!s.checking) return;
    const std::string where = resolve(dirfd, name, follow);
    if (!within(where, s.allowed) || where == s.allowed) {
        std::fprintf(stderr, "\n*** %s outside the sandbox\n", call);
        finding("write outside the extraction directory", where);
    }
}

void check_fd(int fd, const char* call) {
    Sandbox& s = sandbox();
    if (!s.checking) return;
    const std::string where = fd_path(fd);
    if (!within(where, s.allowed) || where == s.allowed) {
        std::fprintf(stderr, "\n*** %s outside the sandbox\n", call);
        finding("write outside the extraction directory", where);
    }
}

bool writes(int flags) {
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

}  // namespace

// The wrapped calls (the linker sends the library's calls of <name> here, and __real_<name>
// to libc).
extern "C" {
int __real_open(const char*, int, ...);
int __real_openat(int, const char*, int, ...);
int __real_mkdir(const char*, mode_t);
int __real_mkdirat(int, const char*, mode_t);
int __real_symlinkat(const char*, int, const char*);
int __real_linkat(int, const char*, int, const char*, int);
int __real_unlink(const char*);
int __real_unlinkat(int, const char*, int);
int __real_rmdir(const char*);
int __real_rename(const char*, const char*);
int __real_renameat2(int, const char*, int, const char*, unsigned);
int __real_chmod(const char*, mode_t);
int __real_fchmod(int, mode_t);
int __real_fchmodat(int, const char*, mode_t, int);
int __real_utimensat(int, const char*, const struct timespec*, int);
int __real_futimens(int, const struct timespec*);
char* __real_mkdtemp(char*);
ssize_t __real_write(int, const void*, size_t);

int __wrap_open(const char* path, int flags, ...) {
    mode_t mode = 0;  // there only with O_CREAT or O_TMPFILE
    if ((flags & (O_CREAT | O_TMPFILE)) != 0) {
        va_list args;
        va_start(args, flags);
        mode = va_arg(args, mode_t);
        va_end(args);
    }
    if (writes(flags)) check(AT_FDCWD, path, (flags & O_NOFOLLOW) == 0, "open");
    return __real_open(path, flags, mode);
}
int __wrap_openat(int dirfd, const char* path, int flags, ...) {
    mode_t mode = 0;  // there only with O_CREAT or O_TMPFILE
    if ((flags & (O_CREAT | O_TMPFILE)) != 0) {
        va_list args;
        va_start(args, flags);
        mode = va_arg(args, mode_t);
        va_end(args);
    }
    if (writes(flags)) check(dirfd, path, (flags & O_NOFOLLOW) == 0, "openat");
    return __real_openat(dirfd, path, flags, mode);
}
int __wrap_mkdir(const char* path, mode_t mode) {
    check(AT_FDCWD, path, false, "mkdir");
    return __real_mkdir(path, mode);
}
int __wrap_mkdirat(int dirfd, const char* path, mode_t mode) {
    check(dirfd, path, false, "mkdirat");
    return __real_mkdirat(dirfd, path, mode);
}
int __wrap_symlinkat(const char* target, int dirfd, const char* path) {
    check(dirfd, path, false, "symlinkat");
    return __real_symlinkat(target, dirfd, path);
}
int __wrap_linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
    check(olddirfd, oldpath, (flags & AT_SYMLINK_FOLLOW) != 0, "linkat (source)");
    check(newdirfd, newpath, false, "linkat");
    return __real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}
int __wrap_unlink(const char* path) {
    check(AT_FDCWD, path, false, "unlink");
    return __real_unlink(path);
}
int __wrap_unlinkat(int dirfd, const char* path, int flags) {
    check(dirfd, path, false, "unlinkat");
    return __real_unlinkat(dirfd, path, flags);
}
int __wrap_rmdir(const char* path) {
    check(AT_FDCWD, path, false, "rmdir");
    return __real_rmdir(path);
}
int __wrap_rename(const char* from, const char* to) {
    check(AT_FDCWD, from, false, "rename (from)");
    check(AT_FDCWD, to, false, "rename");
    return __real_rename(from, to);
}
int __wrap_renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
    check(fromfd, from, false, "renameat2 (from)");
    check(tofd, to, false, "renameat2");
    return __real_renameat2(fromfd, from, tofd, to, flags);
}
int __wrap_chmod(const char* path, mode_t mode) {
    check(AT_FDCWD, path, true, "chmod");
    return __real_chmod(path, mode);
}
int __wrap_fchmod(int fd, mode_t mode) {
    check_fd(fd, "fchmod");
    return __real_fchmod(fd, mode);
}
int __wrap_fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
    check(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0, "fchmodat");
    return __real_fchmodat(dirfd, path, mode, flags);
}
int __wrap_utimensat(int dirfd, const char* path, const struct timespec* times, int flags) {
    if (path == nullptr)
        check_fd(dirfd, "utimensat");
    else
        check(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0, "utimensat");
    return __real_utimensat(dirfd, path, times, flags);
}
int __wrap_futimens(int fd, const struct timespec* times) {
    check_fd(fd, "futimens");
    return __real_futimens(fd, times);
}
ssize_t __wrap_write(int fd, const void* buf, size_t n) {
    Sandbox& s = sandbox();
    if (s.checking) {
        if (s.written + n > write_cap) {
            if (s.written <= write_cap) ++s.capped;
            s.written = write_cap + 1;
            errno = ENOSPC;
            return -1;
        }
        s.written += n;
    }
    return __real_write(fd, buf, n);
}
char* __wrap_mkdtemp(char* templ) {
    check(AT_FDCWD, templ, false, "mkdtemp");
    return __real_mkdtemp(templ);
}
}

namespace {

void write_file(const std::string& path, std::string_view text) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
        std::fclose(f) != 0)
        finding("cannot set up the sandbox", path);
}

std::string read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return "(missing)";
    std::string s;
    char buf[256];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
}

// Names in a directory (without . and ..); -1 when it cannot be read.
long count_entries(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return -1;
    long n = 0;
    while (const dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
    ::closedir(d);
    return n;
}

void set_up() {
    Sandbox& s = sandbox();
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/dolibak-fuzz-tar-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) finding("cannot create the sandbox", templ);
    s.root = fs::canonical(templ).string();
    s.allowed = s.root + "/run";
    s.outside = s.root + "/outside";
    fs::create_directories(s.outside + "/dir");
    write_file(s.outside + "/sentinel", "untouched\n");
    std::atexit([] {
        dolibak::tarball::remove_tree(sandbox().root);
        if (sandbox().capped > 0)
            std::fprintf(stderr, "fuzz_tar_extractor: %llu input(s) met the %llu MiB write cap\n",
                         static_cast<unsigned long long>(sandbox().capped),
                         static_cast<unsigned long long>(write_cap >> 20));
    });
}

void check_outside() {
    const Sandbox& s = sandbox();
    if (read_file(s.outside + "/sentinel") != "untouched\n")
        finding("the sentinel next to the extraction directory changed", s.outside);
    if (count_entries(s.outside) != 2 || count_entries(s.outside + "/dir") != 0)
        finding("the directory next to the extraction directory changed", s.outside);
}

// Every symlink below `dir` must resolve within `top` by its text alone.
void check_links(const fs::path& top, const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path p = it->path();
        const auto st = fs::symlink_status(p, ec);
        if (ec) break;
        if (fs::is_symlink(st)) {
            const fs::path target = fs::read_symlink(p, ec);
            if (ec) break;
            const fs::path lands = (p.parent_path() / target).lexically_normal();
            if (target.is_absolute() || !within(lands.string(), top.string()))
                finding("an extracted symlink leads out of the target", p.string());
        } else if (fs::is_directory(st)) {
            check_links(top, p);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool ready = (set_up(), true);
    (void)ready;
    if (size == 0) return 0;
    Sandbox& s = sandbox();
    const std::uint8_t mode = data[0];
    dolibak::tarball::ExtractOptions o;
    o.in_place = (mode & 0x01) != 0;
    o.strip_components = (mode >> 1) & 0x03;
    if (o.strip_components == 3) o.strip_components = 0;
    if ((mode & 0x08) != 0) o.subtree = "a/";
    o.restore_modes = (mode & 0x10) == 0;
    o.restore_times = (mode & 0x20) == 0;
    const bool existing = (mode & 0x40) != 0;
    const bool compress = (mode & 0x80) != 0;

    const std::string_view archive(reinterpret_cast<const char*>(data + 1), size - 1);
    dolibak::io::MemorySink compressed;
    if (compress) {
        dolibak::io::ZstdSink z(compressed, {1, 0});
        z.write(dolibak::io::as_bytes(archive));
        z.finish();
    }
    dolibak::io::MemorySource source(compress ? std::string_view(compressed.data()) : archive);

    const std::string target = s.allowed + "/t";
    fs::create_directories(s.allowed);
    if (existing) {
        fs::create_directories(target);
        write_file(target + "/before", "before\n");
    }
    bool ok = true;
    s.written = 0;
    s.checking = true;
    try {
        (void)dolibak::tarball::extract_tar(source, target, o);
    } catch (const dolibak::Error&) {
        ok = false;  // a refusal: fine (anything else escapes and is a finding)
    }
    s.checking = false;

    if (ok) {
        check_links(target, target);
    } else if (!o.in_place) {
        // Nothing left behind: no staging directory; the target as it was.
        if (count_entries(s.allowed) != (existing ? 1 : 0))
            finding("a failed extraction left something behind", s.allowed);
        if (existing && (count_entries(target) != 1 || read_file(target + "/before") != "before\n"))
            finding("a failed extraction changed the existing target", target);
    }
    check_outside();
    dolibak::tarball::remove_tree(s.allowed);
    return 0;
}
