#pragma once
// Private: a libpq connection with RAII and small query helpers.
#include <dolibak/pgdump/tools.hpp>

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

namespace dolibak::pgdump::detail {

struct ConnDeleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class Connection {
public:
    explicit Connection(const ConnectionParams& p);
    PGconn* get() const noexcept { return conn_.get(); }
    /// Runs a statement; throws DatabaseError unless it succeeds.
    Result exec(const std::string& sql);
    /// Single text value of a one-row query.
    std::string scalar(const std::string& sql);
    std::string quote_ident(const std::string& s);
    std::string quote_literal(const std::string& s);

private:
    std::unique_ptr<PGconn, ConnDeleter> conn_;
    std::string where_;
};

}  // namespace dolibak::pgdump::detail
