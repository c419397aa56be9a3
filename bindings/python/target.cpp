#include "target.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/settings.hpp>

#include <string>

namespace py = pybind11;

namespace dolibak::python {

pgdump::ConnectionParams to_target(const py::object& target, const char* what,
                                   const pgdump::ConnectionParams* configured) {
    if (py::isinstance<py::str>(target))
        return job::target_connection(target.cast<std::string>(), what, nullptr, configured);
    if (!py::isinstance<py::dict>(target))
        throw py::type_error(std::string(what) + ": a conninfo string or a dict");
    pgdump::ConnectionParams c;
    for (const auto& [k, v] : target.cast<py::dict>()) {
        const std::string key = py::str(k).cast<std::string>();
        if (key == "host")
            c.host = v.cast<std::string>();
        else if (key == "port")
            c.port = v.cast<int>();
        else if (key == "user")
            c.user = v.cast<std::string>();
        else if (key == "dbname")
            c.dbname = v.cast<std::string>();
        else if (key == "password")
            c.password = Secret(v.cast<std::string>());
        else if (key == "sslmode")
            c.sslmode = v.cast<std::string>();
        else
            throw ConfigError(std::string(what) + ": unknown key '" + key +
                              "' (host, port, user, dbname, password, sslmode)");
    }
    if (c.dbname.empty()) throw ConfigError(std::string(what) + ": dbname is required");
    return c;
}

}  // namespace dolibak::python
