// Cost of the database fingerprint in each mode, on the database named by the libpq
// environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints figures only.
//   fingerprint_db [repeats]
#include <dolibak/fingerprint/db.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    using namespace dolibak;
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
    pgdump::ConnectionParams c;
    auto env = [](const char* name, const char* fallback) {
        const char* v = std::getenv(name);
        return std::string(v ? v : fallback);
    };
    c.host = env("PGHOST", "localhost");
    c.port = std::atoi(env("PGPORT", "5432").c_str());
    c.user = env("PGUSER", "postgres");
    c.dbname = env("PGDATABASE", "postgres");
    c.password = Secret(env("PGPASSWORD", ""));
    for (auto mode :
         {fingerprint::DbMode::count_tms, fingerprint::DbMode::xmin, fingerprint::DbMode::content}) {
        fingerprint::DbOptions o;
        o.mode = mode;
        o.exclude_tables = {"llx_user", "llx_const", "llx_cronjob", "llx_events", "llx_user_param"};
        double best = 1e9;
        std::size_t tables = 0;
        for (int i = 0; i < repeats; ++i) {
            const auto start = std::chrono::steady_clock::now();
            const auto fp = fingerprint::fingerprint_database(c, o);
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            best = std::min(best, s);
            tables = fp.tables.size();
        }
        fmt::print("fingerprint {:<10} {:8.2f} s (best of {}), {} tables\n",
                   fingerprint::to_string(mode), best, repeats, tables);
    }
}
