#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <random>

namespace dolibak::io {

FdSource::FdSource(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

std::size_t FdSource::read(MutableBytes buf) {
    if (!fd_ || buf.empty()) return 0;
    for (;;) {
        const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        throw IoError("cannot read", name_, errno);
    }
}

static UniqueFd open_for_reading(const std::filesystem::path& path) {
    // O_NOATIME is allowed only to the file's owner (or CAP_FOWNER): fall back without it.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError("cannot open", path.string(), errno);
    return UniqueFd(fd);
}

FileSource::FileSource(const std::filesystem::path& path)
    : FdSource(open_for_reading(path), path.string()) {}

FdSink::FdSink(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

namespace {
// Writes while SIGPIPE is blocked in this thread, so a closed pipe gives EPIPE instead of
// killing the process; a SIGPIPE raised by our write is consumed before unblocking.
ssize_t write_no_sigpipe(int fd, const void* data, std::size_t size) {
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n = ::write(fd, data, size);
    const int saved = errno;
    // The kernel raises SIGPIPE also when a write returns a partial count because the reader
    // went away in the middle of it: consume whatever our write raised.
    sigemptyset(&pending);
    sigpending(&pending);
    if (!was_pending && sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    errno = saved;
    return n;
}
}  // namespace

void FdSink::write(Bytes data) {
    if (!fd_) throw Error("write to " + name_ + " after it was closed");
    const std::byte* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        const ssize_t n = write_no_sigpipe(fd_.get(), p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError("cannot write", name_, errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void FdSink::finish() {
    if (!fd_) return;
    const int fd = fd_.release();
    if (::close(fd) != 0 && errno != EINTR) throw IoError("cannot close", name_, errno);
}

void FdSink::abort() noexcept {
    fd_.reset();
}

void fsync_directory(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw IoError("cannot open directory", dir.string(), errno);
    if (::fsync(fd.get()) != 0 && errno != EINVAL)
        throw IoError("cannot fsync directory", dir.string(), errno);
}

static std::string random_suffix() {
    static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                            static_cast<std::uint64_t>(::time(nullptr)));
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (int i = 0; i < 10; ++i) s += alphabet[rng() % (sizeof alphabet - 1)];
    return s;
}

AtomicFileSink::AtomicFileSink(std::filesystem::path path, unsigned mode) : path_(std::move(path)) {
    const auto dir = path_.parent_path();
    for (int attempt = 0; attempt < 100 && !fd_; ++attempt) {
        temp_ = dir / ("." + path_.filename().string() + ".tmp-" + random_suffix());
        const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                              static_cast<mode_t>(mode));
        if (fd >= 0) {
            fd_.reset(fd);
        } else if (errno != EEXIST) {
            throw IoError("cannot create temporary file", temp_.string(), errno);
        }
    }
    if (!fd_) throw IoError("cannot create temporary file", temp_.string(), EEXIST);
}

AtomicFileSink::~AtomicFileSink() {
    abort();
}

void AtomicFileSink::write(Bytes data) {
    if (done_) throw Error("write to " + path_.string() + " after it was completed");
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

void AtomicFileSink::finish() {
    if (done_) throw Error("completing " + path_.string() + " twice");
    if (::fsync(fd_.get()) != 0) throw IoError("cannot fsync", temp_.string(), errno);
    const int fd = fd_.release();
    if (::close(fd) != 0) throw IoError("cannot close", temp_.string(), errno);
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
        throw IoError("cannot rename " + temp_.string() + " to", path_.string(), errno);
    done_ = true;
    fsync_directory(path_.parent_path());
}

void AtomicFileSink::abort() noexcept {
    if (done_) return;
    fd_.reset();
    if (!temp_.empty()) ::unlink(temp_.c_str());
    done_ = true;
}

}  // namespace dolibak::io
