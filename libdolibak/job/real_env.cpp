// Env::real: the configured store, the system clock (or the configuration's injected now) and
// the real half drivers.
#include "job/real_drivers.hpp"

#include <thread>

namespace dolibak::job {

namespace {

class SystemClock final : public Clock {
public:
    TimePoint now() override {
        return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

/// The system clock for waits, `now` from the configuration (tests of the real halves).
class ConfiguredClock final : public Clock {
public:
    explicit ConfiguredClock(std::function<TimePoint()> now) : now_(std::move(now)) {}
    TimePoint now() override { return now_(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }

private:
    std::function<TimePoint()> now_;
};

class RealEnv final : public Env {
public:
    explicit RealEnv(const Config& c)
        : store_(store::open(c.store_url, c.store)),
          database_(detail::make_real_database(c)),
          documents_(detail::make_real_documents(c)),
          globals_(detail::make_real_globals(c)) {
        if (c.now) configured_clock_ = std::make_unique<ConfiguredClock>(c.now);
    }
    store::Store& store() override { return *store_; }
    Clock& clock() override { return configured_clock_ ? *configured_clock_ : Clock::system(); }
    DatabaseDriver* database() override { return database_.get(); }
    DocumentsDriver* documents() override { return documents_.get(); }
    HalfDriver* globals() override { return globals_.get(); }

private:
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<Clock> configured_clock_;
    std::unique_ptr<DatabaseDriver> database_;
    std::unique_ptr<DocumentsDriver> documents_;
    std::unique_ptr<HalfDriver> globals_;
};

}  // namespace

Clock& Clock::system() {
    static SystemClock clock;
    return clock;
}

std::unique_ptr<Env> Env::real(const Config& config) {
    return std::make_unique<RealEnv>(config);
}

}  // namespace dolibak::job
