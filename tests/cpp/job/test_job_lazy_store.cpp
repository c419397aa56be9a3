// The real environment opens the store at its first use: a command that never reads the
// store (a sandbox refresh) runs without store credentials; the others fail as before, with
// the store's own error.
#include "support/sim_env.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>

#include <doctest/doctest.h>

using namespace dolibak;

TEST_CASE("a job over an S3 store without credentials is built; the store fails at first use") {
    auto config = sim::sim_config();
    config.store_url = "s3://production-bucket/dolibarr";
    config.store.use_environment = false;  // no AWS_* variables, no ~/.aws
    job::Job j(config);
    CHECK(j.store().url() == "s3://production-bucket/dolibarr");
    CHECK_THROWS_WITH_AS(j.list(), doctest::Contains("no S3 credentials"), ConfigError);
}
