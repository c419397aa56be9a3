#pragma once
// An environment whose only half is the real documents driver (tar or packs, as the config
// says) over a given store and a manual clock: for the documents tests that need the real
// driver and nothing else.
#include "job/real_drivers.hpp"
#include "support/sim_env.hpp"

#include <dolibak/job/env.hpp>

#include <memory>

namespace dolibak::test {

class RealDocsEnv final : public job::Env {
public:
    RealDocsEnv(store::Store& store, sim::ManualClock& clock, const job::Config& config)
        : store_(store), clock_(clock), docs_(job::detail::make_real_documents(config, store)) {}
    store::Store& store() override { return store_; }
    job::Clock& clock() override { return clock_; }
    job::DatabaseDriver* database() override { return nullptr; }
    job::DocumentsDriver* documents() override { return docs_.get(); }
    job::HalfDriver* globals() override { return nullptr; }

private:
    store::Store& store_;
    sim::ManualClock& clock_;
    std::unique_ptr<job::DocumentsDriver> docs_;
};

}  // namespace dolibak::test
