#pragma once
// A simulated environment for the job layer (job/env.hpp): a clock the test advances, and
// half drivers whose live content is a string the test sets. Their objects are the content
// framed by a header and a trailer, so that a restore gives back exactly the content a run
// stored, and a torn or foreign object is a finding. With the memory store (and a FaultStore
// over it) a decade of runs takes seconds.
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/job/env.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace dolibak::sim {

/// A clock that moves only when told to (sleep_for moves it too).
class ManualClock final : public job::Clock {
public:
    explicit ManualClock(TimePoint t) : t_(t.time_since_epoch().count()) {}
    TimePoint now() override { return TimePoint(std::chrono::seconds(t_.load())); }
    void sleep_for(std::chrono::milliseconds d) override {
        t_ += std::chrono::ceil<std::chrono::seconds>(d).count();
    }
    void set(TimePoint t) { t_ = t.time_since_epoch().count(); }
    void advance(std::chrono::seconds d) { t_ += d.count(); }

private:
    std::atomic<std::int64_t> t_;
};

/// Where racing threads meet: arrive_and_wait() returns once `n` arrived (or after 5 s, so a
/// thread that never comes does not hang a test); arrive() counts without waiting.
class Meeting {
public:
    explicit Meeting(int n = 2) : n_(n) {}
    void arrive() {
        std::lock_guard lock(m_);
        ++arrived_;
        cv_.notify_all();
    }
    /// False when it gave up waiting.
    bool arrive_and_wait() {
        std::unique_lock lock(m_);
        ++arrived_;
        cv_.notify_all();
        return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return arrived_ >= n_; });
    }

private:
    int n_;
    std::mutex m_;
    std::condition_variable cv_;
    int arrived_ = 0;
};

/// One half's live content and what the driver did with it.
class FakeHalf {
public:
    explicit FakeHalf(std::string name) : name_(std::move(name)) {}

    void set_content(std::string c) {
        std::lock_guard lock(mutex_);
        content_ = std::move(c);
    }
    std::string content() const {
        std::lock_guard lock(mutex_);
        return content_;
    }
    /// Called at the driver's steps ("fingerprint", "produce", "produce-written"): a test
    /// throws from it to fail or kill a run there.
    std::function<void(const std::string& step)> on_step;
    /// What the fingerprint returns as its pre-check state and whether it read everything
    /// again (LiveFingerprint::state, rescanned), and the stored state it was last given.
    std::string state;
    bool rescanned = false;
    std::string given_state;

    std::string fingerprint() const { return io::sha256_hex(frame(content())); }

    std::string frame(const std::string& c) const {
        return "FAKE " + name_ + " " + std::to_string(c.size()) + "\n" + c + "\nEND\n";
    }
    /// The content of a framed object; throws FormatError when it is not one.
    std::string unframe(const std::string& object) const {
        const std::string head = "FAKE " + name_ + " ";
        if (object.rfind(head, 0) != 0) throw FormatError("not a fake " + name_ + " object");
        const auto nl = object.find('\n');
        if (nl == std::string::npos) throw FormatError("torn header");
        const auto size = std::stoull(object.substr(head.size(), nl - head.size()));
        if (object.size() != nl + 1 + size + 5 || object.compare(nl + 1 + size, 5, "\nEND\n") != 0)
            throw FormatError("torn fake " + name_ + " object");
        return object.substr(nl + 1, size);
    }

    void step(const std::string& s) {
        if (on_step) on_step(s);
    }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    mutable std::mutex mutex_;
    std::string content_ = "initial";
};

/// Reads a whole source.
inline std::string slurp(io::Source& src) {
    return io::read_all(src, std::size_t{1} << 30);
}

template <typename Base>
class FakeDriver : public Base {
public:
    FakeDriver(FakeHalf& half, catalog::ObjectKind kind) : half_(half), kind_(kind) {}
    catalog::ObjectKind object_kind() const override { return kind_; }
    std::string format() const override { return "fake-" + half_.name(); }
    job::LiveFingerprint fingerprint(const job::DriverContext& ctx) override {
        half_.step("fingerprint");
        half_.given_state = ctx.stored_state;
        job::LiveFingerprint fp{half_.fingerprint(), "fake", "fake 1", ""};
        fp.state = half_.state;
        fp.rescanned = half_.rescanned;
        return fp;
    }
    job::Produced produce(io::Sink& sink, const job::DriverContext&) override {
        try {
            half_.step("produce");
            const auto object = half_.frame(half_.content());
            // In two writes, so that a kill can land between them.
            const auto cut = object.size() / 2;
            sink.write(io::as_bytes(std::string_view(object).substr(0, cut)));
            half_.step("produce-written");
            sink.write(io::as_bytes(std::string_view(object).substr(cut)));
            sink.finish();
        } catch (...) {
            sink.abort();
            throw;
        }
        return {R"({"fake":true})", "fake 1", "", half_.name()};
    }
    std::vector<std::string> check_object(io::Source& object, const std::string&,
                                          const job::DriverContext&) override {
        try {
            half_.unframe(slurp(object));
            return {};
        } catch (const FormatError& e) {
            return {e.what()};
        }
    }

protected:
    FakeHalf& half_;
    catalog::ObjectKind kind_;
};

class FakeDatabase final : public FakeDriver<job::DatabaseDriver> {
public:
    using FakeDriver::FakeDriver;
    /// The content of the last restore.
    std::string restored;
    pgdump::RestoreReport restore(io::Source& object, const std::string&,
                                  const job::RestoreDbOptions&,
                                  const job::DriverContext&) override {
        restored = half_.unframe(slurp(object));
        return {};
    }
};

class FakeDocuments final : public FakeDriver<job::DocumentsDriver> {
public:
    using FakeDriver::FakeDriver;
    std::string restored;
    tarball::ExtractSummary restore(io::Source& object, const std::string&,
                                    const std::filesystem::path&, const job::RestoreDocsOptions&,
                                    bool, const job::DriverContext&) override {
        restored = half_.unframe(slurp(object));
        return {};
    }
};

/// An Env over a store the test owns, a manual clock and the fake drivers.
class SimEnv final : public job::Env {
public:
    SimEnv(store::Store& store, ManualClock& clock, FakeHalf& db, FakeHalf& docs)
        : store_(store),
          clock_(clock),
          database_(db, catalog::ObjectKind::db_dump),
          documents_(docs, catalog::ObjectKind::docs_tar_gz) {}
    store::Store& store() override { return store_; }
    job::Clock& clock() override { return clock_; }
    job::DatabaseDriver* database() override { return &database_; }
    job::DocumentsDriver* documents() override { return &documents_; }
    job::HalfDriver* globals() override { return nullptr; }
    FakeDatabase& fake_database() { return database_; }
    FakeDocuments& fake_documents() { return documents_; }

private:
    store::Store& store_;
    ManualClock& clock_;
    FakeDatabase database_;
    FakeDocuments documents_;
};

/// A configuration for the simulated instance (both halves, a dummy database name).
inline job::Config sim_config() {
    job::Config c;
    c.store_url = "mem://sim";
    job::DatabaseSettings d;
    d.conn.dbname = "sim";
    c.db = d;
    job::DocumentsSettings s;
    s.root = "/nonexistent-sim-documents";
    s.mode = job::DocsMode::tar;  // what the fake documents half writes (docs/<ts>.tar.gz)
    c.docs = s;
    return c;
}

/// A time stamp of the simulated calendar (UTC): `at(2026, 3, 1)` is 2026-03-01 02:00.
inline TimePoint at(int y, int m, int d, int h = 2) {
    using namespace std::chrono;
    return sys_days{year{y} / m / d} + hours{h};
}

/// One simulated instance: a memory store behind a fault store, a manual clock, fake halves
/// and a Job over them.
struct Rig {
    store::MemoryStore mem{"sim"};
    store::FaultStore faults{mem};
    ManualClock clock{at(2026, 1, 1)};
    FakeHalf db{"db"}, docs{"docs"};
    SimEnv env{faults, clock, db, docs};
    job::Job job{sim_config(), env};

    explicit Rig(const std::string& name = "sim") : mem(name) {}
    /// A backup at `t` (of the database only when `with_docs` is false).
    job::BackupReport run_at(TimePoint t, bool with_docs = true) {
        clock.set(t);
        job::BackupOptions o;
        o.docs = with_docs;
        return job.backup(o);
    }
};

}  // namespace dolibak::sim
