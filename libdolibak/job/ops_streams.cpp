#include "job/ops_streams.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/pgdump/toc_filter.hpp>
#include <dolibak/process/process.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace dolibak::job::detail {

// ---- CheckedSource ----------------------------------------------------------------------

CheckedSource::CheckedSource(io::Source& inner, std::string what, Expect expect,
                             std::shared_ptr<CancelToken> cancel,
                             std::function<void(std::uint64_t)> on_progress)
    : inner_(inner),
      what_(std::move(what)),
      expect_(std::move(expect)),
      cancel_(std::move(cancel)),
      on_progress_(std::move(on_progress)) {}

void CheckedSource::fetch_next() {
    if (ended_ || next_len_ != 0) return;
    if (next_.size() != io::default_buffer_size) next_.resize(io::default_buffer_size);
    const std::size_t n = inner_.read(next_);
    next_len_ = n;
    if (n == 0) {
        ended_ = true;
        if (on_progress_) on_progress_(bytes_);
        check_end();
        return;
    }
    hash_.update(io::Bytes(next_.data(), n));
    bytes_ += n;
    if (on_progress_) {
        const auto now = std::chrono::steady_clock::now();
        if (now - reported_ >= std::chrono::milliseconds(500)) {
            reported_ = now;
            on_progress_(bytes_);
        }
    }
    if (expect_.bytes && bytes_ > *expect_.bytes)
        throw VerificationError(
            fmt::format("{} is larger than recorded: more than {} bytes", what_, *expect_.bytes),
            {what_ + ": size differs from the manifest"});
}

void CheckedSource::check_end() {
    if (expect_.bytes && bytes_ != *expect_.bytes)
        throw VerificationError(
            fmt::format("{} has {} bytes, the manifest records {}", what_, bytes_, *expect_.bytes),
            {what_ + ": size differs from the manifest"});
    if (!expect_.sha256.empty()) {
        const std::string got = hash_.hex();
        if (got != expect_.sha256)
            throw VerificationError(fmt::format("{}: SHA-256 {} differs from the manifest's {}",
                                                what_, got, expect_.sha256),
                                    {what_ + ": SHA-256 differs from the manifest"});
    }
}

std::size_t CheckedSource::read(io::MutableBytes buf) {
    if (cancel_) cancel_->check("reading " + what_);
    if (failure_) std::rethrow_exception(failure_);
    try {
        if (cur_pos_ == cur_len_) {
            fetch_next();
            if (next_len_ == 0) return 0;
            std::swap(cur_, next_);
            cur_len_ = next_len_;
            next_len_ = 0;
            cur_pos_ = 0;
            // One chunk ahead: the end (and its checks) is seen before the last bytes go out.
            fetch_next();
        }
    } catch (...) {
        failure_ = std::current_exception();
        throw;
    }
    const std::size_t n = std::min(buf.size(), cur_len_ - cur_pos_);
    std::memcpy(buf.data(), cur_.data() + cur_pos_, n);
    cur_pos_ += n;
    return n;
}

// ---- peek_toc ---------------------------------------------------------------------------

bool is_encrypted_object(const std::string& key) {
    const auto parsed = catalog::parse_store_key(key);
    return parsed && parsed->encrypted;
}

PeekedToc peek_toc(io::Source& source, const std::string& name) {
    // A TOC is a few MiB even for thousands of tables; the bound only stops a runaway.
    io::RecordingSource rec(source, std::size_t{512} << 20);
    std::vector<std::byte> magic(4);
    magic.resize(io::read_full(rec, magic));
    const bool zst = io::is_zstd(magic);
    pgdump::ArchiveReader reader;
    std::vector<std::byte> buf(64 * 1024);
    if (zst) {
        io::ReplaySource raw(magic, source);
        // Decompress only as far as the TOC: the compressed bytes read are recorded.
        io::RecordingSource rec2(raw, std::size_t{512} << 20);
        io::ZstdSource unz(rec2);
        while (!reader.toc_done() && !reader.failed()) {
            const std::size_t n = unz.read(buf);
            if (n == 0) break;
            reader.update(io::Bytes(buf.data(), n));
        }
        if (!reader.toc_done()) {
            reader.finish();
            throw FormatError(name +
                              ": the archive ends or breaks before its table of contents "
                              "is complete: " +
                              reader.result().message);
        }
        return {reader.summary(), rec2.take()};
    }
    reader.update(magic);
    while (!reader.toc_done() && !reader.failed()) {
        const std::size_t n = rec.read(buf);
        if (n == 0) break;
        reader.update(io::Bytes(buf.data(), n));
    }
    if (!reader.toc_done()) {
        reader.finish();
        throw FormatError(name +
                          ": the archive ends or breaks before its table of contents is "
                          "complete: " +
                          reader.result().message);
    }
    return {reader.summary(), rec.take()};
}

std::string exclusion_list(const pgdump::ArchiveSummary& toc,
                           const std::vector<std::string>& exclude) {
    pgdump::TocFilter filter;
    for (const auto& rule : exclude) filter.exclude.push_back(pgdump::parse_rule(rule));
    return filter.list(toc);
}

// ---- ThreadPipe -------------------------------------------------------------------------

class ThreadPipe::PipeSink final : public io::Sink {
public:
    explicit PipeSink(ThreadPipe& p) : p_(p) {}
    void write(io::Bytes data) override { p_.write(data); }
    void finish() override { p_.finish_writing(); }
    void abort() noexcept override { p_.abort_writing(); }

private:
    ThreadPipe& p_;
};

class ThreadPipe::PipeSource final : public io::Source {
public:
    explicit PipeSource(ThreadPipe& p) : p_(p) {}
    std::size_t read(io::MutableBytes buf) override { return p_.read(buf); }

private:
    ThreadPipe& p_;
};

ThreadPipe::ThreadPipe(std::shared_ptr<CancelToken> cancel, std::size_t capacity)
    : cancel_(std::move(cancel)),
      capacity_(capacity),
      sink_(std::make_unique<PipeSink>(*this)),
      source_(std::make_unique<PipeSource>(*this)) {}

ThreadPipe::~ThreadPipe() = default;

io::Sink& ThreadPipe::sink() {
    return *sink_;
}
io::Source& ThreadPipe::source() {
    return *source_;
}

namespace {
// Waits are sliced so that a cancellation is seen within this delay.
constexpr auto slice = std::chrono::milliseconds(100);
}  // namespace

void ThreadPipe::write(io::Bytes data) {
    std::unique_lock lock(mutex_);
    while (!data.empty()) {
        for (;;) {
            if (closed_) throw IoError("writing to the restore", "(pipe)", EPIPE);
            if (cancel_) cancel_->check("streaming");
            if (buffered_ < capacity_) break;
            changed_.wait_for(lock, slice);
        }
        const std::size_t n =
            std::min(data.size(), std::max<std::size_t>(capacity_ - buffered_, 1));
        chunks_.emplace_back(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        buffered_ += n;
        data = data.subspan(n);
        changed_.notify_all();
    }
}

std::size_t ThreadPipe::read(io::MutableBytes buf) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (cancel_) cancel_->check("streaming");
        if (buffered_ > 0) break;
        if (aborted_) throw IoError("reading from the producer (it failed)", "(pipe)", EPIPE);
        if (finished_) return 0;
        changed_.wait_for(lock, slice);
    }
    std::size_t done = 0;
    while (done < buf.size() && !chunks_.empty()) {
        auto& front = chunks_.front();
        const std::size_t n = std::min(buf.size() - done, front.size() - front_pos_);
        std::memcpy(buf.data() + done, front.data() + front_pos_, n);
        done += n;
        front_pos_ += n;
        buffered_ -= n;
        if (front_pos_ == front.size()) {
            chunks_.pop_front();
            front_pos_ = 0;
        }
    }
    changed_.notify_all();
    return done;
}

void ThreadPipe::finish_writing() {
    std::lock_guard lock(mutex_);
    if (closed_) throw IoError("finishing the stream to the restore", "(pipe)", EPIPE);
    finished_ = true;
    changed_.notify_all();
}

void ThreadPipe::abort_writing() noexcept {
    std::lock_guard lock(mutex_);
    aborted_ = true;
    changed_.notify_all();
}

bool ThreadPipe::producer_aborted() noexcept {
    std::lock_guard lock(mutex_);
    return aborted_;
}

void ThreadPipe::close() noexcept {
    std::lock_guard lock(mutex_);
    closed_ = true;
    chunks_.clear();
    buffered_ = 0;
    changed_.notify_all();
}

// ---- hooks ------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::optional<std::string>>> hook_environment(
    const RefreshOptions& options, const std::string& phase, const std::string& outcome) {
    std::vector<std::pair<std::string, std::optional<std::string>>> env;
    auto pass = [&env](const std::string& name) {
        if (const char* v = std::getenv(name.c_str())) env.emplace_back(name, std::string(v));
    };
    for (const char* name : {"KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"})
        pass(name);
    for (const auto& name : options.hook_env) {
        if (name.empty() || name.find('=') != std::string::npos)
            throw ConfigError("hook_env: '" + name + "' is not a variable name");
        pass(name);
    }
    env.emplace_back("DOLIBAK_REFRESH_PHASE", phase);
    env.emplace_back("DOLIBAK_REFRESH_SANDBOX", options.sandbox.describe());
    if (!outcome.empty()) env.emplace_back("DOLIBAK_REFRESH_RESULT", outcome);
    return env;
}

int run_hook(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::optional<std::string>>>& env,
             std::string* stderr_tail) {
    process::ProcessOptions o;
    o.argv = argv;
    o.env = env;
    o.env_base = process::EnvBase::minimal;  // nothing of ours but what `env` names
    o.in = process::Stdio::null;
    o.out = process::Stdio::null;
    o.err = process::Stdio::capture;
    o.stderr_tail_bytes = 4096;
    process::Process p(std::move(o));
    const process::ExitStatus st = p.wait();
    if (stderr_tail) *stderr_tail = p.stderr_tail();
    return st.signal != 0 ? -1 : st.code;
}

}  // namespace dolibak::job::detail
