// HalfDriver's default for a fingerprint taken with the object: one after the other.
#include <dolibak/job/env.hpp>

namespace dolibak::job {

std::pair<LiveFingerprint, Produced> HalfDriver::fingerprint_and_produce(io::Sink& sink,
                                                                         const DriverContext& ctx) {
    LiveFingerprint fp;
    try {
        fp = fingerprint(ctx);
    } catch (...) {
        sink.abort();
        throw;
    }
    Produced produced = produce(sink, ctx);  // finishes or aborts the sink
    return {std::move(fp), std::move(produced)};
}

}  // namespace dolibak::job
