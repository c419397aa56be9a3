// dolibak.retention: the pure retention planner, time stamps and store keys.
#include "plan_decisions.hpp"
#include "registry.hpp"

#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/retention/timezone.hpp>

#include <pybind11/stl.h>

#include <cmath>

namespace py = pybind11;

namespace dolibak::python {
namespace {

using retention::Backup;
using retention::Explained;
using retention::Plan;
using retention::Policy;

// A time from Python: a `YYYYMMDDTHHMMSSZ` or `YYYY-MM-DDTHH:MM:SSZ` string, seconds since the
// epoch (int), or a timezone-aware datetime.
TimePoint to_time(const py::handle& h) {
    if (py::isinstance<py::str>(h)) {
        const auto s = h.cast<std::string>();
        return s.size() == 20 ? parse_rfc3339(s) : parse_timestamp(s);
    }
    if (py::isinstance<py::bool_>(h)) throw py::type_error("a time cannot be a bool");
    if (py::isinstance<py::int_>(h)) return TimePoint{std::chrono::seconds{h.cast<long long>()}};
    if (py::hasattr(h, "utcoffset") && py::hasattr(h, "timestamp")) {
        if (h.attr("utcoffset")().is_none())
            throw ConfigError(
                "a naive datetime has no time zone: pass an aware one (tzinfo=timezone.utc)");
        const double secs = h.attr("timestamp")().cast<double>();
        return TimePoint{std::chrono::seconds{static_cast<long long>(std::floor(secs))}};
    }
    throw py::type_error(
        "a time must be a time stamp string, an int (epoch seconds) or an "
        "aware datetime");
}

py::object from_time(TimePoint t) {
    const auto datetime = py::module_::import("datetime");
    return datetime.attr("datetime")
        .attr("fromtimestamp")(t.time_since_epoch().count(), datetime.attr("timezone").attr("utc"));
}

retention::Verification to_verification(const std::string& s) {
    if (s == "unknown") return retention::Verification::unknown;
    if (s == "good") return retention::Verification::good;
    if (s == "failed") return retention::Verification::failed;
    throw ConfigError("a verification state is 'unknown', 'good' or 'failed', not '" + s + "'");
}

struct PyPlan {
    Plan plan;
    TimePoint now;
    Policy policy;
};

py::list reasons_of(const Explained& d) {
    py::list l;
    for (const auto r : d.reasons) l.append(std::string(retention::to_string(r)));
    return l;
}

std::vector<Backup> to_backups(const py::iterable& items, const std::string& default_half) {
    std::vector<Backup> out;
    for (const auto& item : items) {
        if (py::isinstance<Backup>(item)) {
            out.push_back(item.cast<Backup>());
        } else if (py::isinstance<py::str>(item)) {
            auto one = catalog::backups_from_lines(item.cast<std::string>(), default_half);
            if (one.size() != 1)
                throw ConfigError("'" + item.cast<std::string>() +
                                  "' is not a backup key or time stamp");
            out.push_back(std::move(one.front()));
        } else {
            throw py::type_error("backups must be Backup objects or key / time stamp strings");
        }
    }
    return out;
}

const Registrar registrar(40, [](py::module_& m) {
    auto r = m.def_submodule(
        "retention",
        "The retention planner (pure: no I/O; `now` is given), time stamps and store keys. "
        "See docs/retention.md.");

    py::class_<Backup>(r, "Backup", "One backup object of one half.")
        .def(py::init([](std::string key, const py::object& time, std::string half, bool ok,
                         const std::string& verified) {
                 return Backup{std::move(key), to_time(time), std::move(half), ok,
                               to_verification(verified)};
             }),
             py::arg("key"), py::arg("time"), py::arg("half") = "db", py::arg("ok") = true,
             py::arg("verified") = "unknown")
        .def_readwrite("key", &Backup::key, "Its store key (or a time stamp).")
        .def_property(
            "time", [](const Backup& b) { return from_time(b.time); },
            [](Backup& b, const py::object& t) { b.time = to_time(t); },
            "Its time stamp (aware UTC datetime; set from a time stamp string, epoch seconds or an "
            "aware datetime).")
        .def_readwrite("half", &Backup::half, "'db', 'docs' or 'globals'.")
        .def_readwrite("ok", &Backup::ok, "Whether the run that made it succeeded.")
        .def_property(
            "verified",
            [](const Backup& b) { return std::string(retention::to_string(b.verified)); },
            [](Backup& b, const std::string& v) { b.verified = to_verification(v); },
            "Its latest verification: 'unknown', 'good' or 'failed'.")
        .def("__repr__", [](const Backup& b) {
            return "Backup(key='" + b.key + "', time='" + format_timestamp(b.time) + "', half='" +
                   b.half + "', ok=" + (b.ok ? "True" : "False") + ", verified='" +
                   std::string(retention::to_string(b.verified)) + "')";
        });

    py::class_<Policy>(r, "Policy",
                       "A retention policy: mode 'tiered' (daily_days, monthly_months, "
                       "yearly_years) or 'count' (restic's keep_* counts, -1 = unlimited).")
        .def(py::init([](std::optional<std::string> mode, std::optional<int> daily_days,
                         std::optional<int> monthly_months, std::optional<int> yearly_years,
                         std::optional<int> keep_last, std::optional<int> keep_hourly,
                         std::optional<int> keep_daily, std::optional<int> keep_weekly,
                         std::optional<int> keep_monthly, std::optional<int> keep_yearly,
                         std::optional<bool> keep_oldest_if_unfilled,
                         std::optional<std::string> time_zone) {
                 retention::PolicySpec spec;
                 spec.mode = std::move(mode);
                 spec.daily_days = daily_days;
                 spec.monthly_months = monthly_months;
                 spec.yearly_years = yearly_years;
                 spec.last = keep_last;
                 spec.hourly = keep_hourly;
                 spec.daily = keep_daily;
                 spec.weekly = keep_weekly;
                 spec.monthly = keep_monthly;
                 spec.yearly = keep_yearly;
                 spec.keep_oldest_if_unfilled = keep_oldest_if_unfilled;
                 spec.time_zone = std::move(time_zone);
                 return retention::build_policy(spec, retention::Spelling::python);
             }),
             py::kw_only(), py::arg("mode") = py::none(), py::arg("daily_days") = py::none(),
             py::arg("monthly_months") = py::none(), py::arg("yearly_years") = py::none(),
             py::arg("keep_last") = py::none(), py::arg("keep_hourly") = py::none(),
             py::arg("keep_daily") = py::none(), py::arg("keep_weekly") = py::none(),
             py::arg("keep_monthly") = py::none(), py::arg("keep_yearly") = py::none(),
             py::arg("keep_oldest_if_unfilled") = py::none(), py::arg("time_zone") = py::none(),
             "Unset settings take their defaults (tiered: 30 days, 12 months, 10 years; count "
             "rules off; UTC). The mode is count when a keep_* count is given, else tiered. "
             "Mixing the tiered windows with the counts raises ConfigError.")
        .def_property_readonly(
            "mode",
            [](const Policy& p) { return p.mode == Policy::Mode::tiered ? "tiered" : "count"; },
            "'tiered' or 'count'.")
        .def_property_readonly(
            "time_zone", [](const Policy& p) { return p.zone.name(); },
            "The time zone of the day, week, month and year buckets.")
        .def("__repr__", [](const Policy& p) { return "Policy(" + retention::describe(p) + ")"; })
        .def("__str__", [](const Policy& p) { return retention::describe(p); });
    r.attr("UNLIMITED") = retention::CountPolicy::unlimited;

    py::class_<Explained>(r, "Decision", "What the plan does with one backup, and why.")
        .def_property_readonly(
            "key", [](const Explained& d) { return d.backup.key; }, "The backup's key.")
        .def_property_readonly(
            "time", [](const Explained& d) { return from_time(d.backup.time); },
            "The backup's time stamp (aware UTC datetime).")
        .def_property_readonly(
            "half", [](const Explained& d) { return d.backup.half; }, "The backup's half.")
        .def_property_readonly(
            "ok", [](const Explained& d) { return d.backup.ok; },
            "Whether the backup's run succeeded.")
        .def_property_readonly(
            "verified",
            [](const Explained& d) { return std::string(retention::to_string(d.backup.verified)); },
            "Its latest verification: 'unknown', 'good' or 'failed'.")
        .def_readonly("keep", &Explained::keep, "True: kept; False: dropped.")
        .def_property_readonly("reasons", &reasons_of,
                               "Why it is kept: 'daily', 'monthly', 'yearly', 'last', 'hourly', "
                               "'day', 'week', 'month', 'year', 'oldest', 'empty-policy', "
                               "'newest-success', 'protected', 'future', 'failed-recent'")
        .def_readonly("detail", &Explained::detail, "A readable explanation of the decision.")
        .def("__repr__", [](const Explained& d) {
            std::string s = std::string(d.keep ? "keep " : "drop ") + d.backup.key;
            if (!d.detail.empty()) s += " (" + d.detail + ")";
            return "<Decision " + s + ">";
        });

    py::class_<PyPlan>(r, "Plan", "A retention plan: every backup once, by half, newest first.")
        .def_property_readonly(
            "decisions", [](const PyPlan& p) { return explained(p.plan, Which::all); },
            "Every backup's Decision, by half, newest first.")
        .def_property_readonly(
            "kept", [](const PyPlan& p) { return explained(p.plan, Which::kept); },
            "The decisions that keep their backup.")
        .def_property_readonly(
            "dropped", [](const PyPlan& p) { return explained(p.plan, Which::dropped); },
            "The decisions that drop their backup.")
        .def_property_readonly(
            "drop_keys", [](const PyPlan& p) { return p.plan.drop_keys(); },
            "Keys to delete, oldest first.")
        .def_property_readonly(
            "counts",
            [](const PyPlan& p) {
                py::dict counts;
                for (const auto& d : p.plan.decisions)
                    for (const auto reason : d.reasons) {
                        const py::str k(std::string(retention::to_string(reason)));
                        counts[k] = counts.contains(k) ? counts[k].cast<int>() + 1 : 1;
                    }
                return counts;
            },
            "Number of kept backups per reason.")
        .def_property_readonly(
            "now", [](const PyPlan& p) { return from_time(p.now); },
            "The time the plan was made for (aware UTC datetime).")
        .def(
            "to_json", [](const PyPlan& p) { return retention::to_json(p.plan); },
            "The plan as JSON text (the CLI's prune --json form).")
        .def("__len__", [](const PyPlan& p) { return p.plan.decisions.size(); })
        .def("__repr__", [](const PyPlan& p) {
            return "<Plan " + std::to_string(p.plan.kept()) + " kept, " +
                   std::to_string(p.plan.dropped()) + " dropped>";
        });

    r.def(
        "plan",
        [](const py::iterable& backups, const py::object& now, const std::optional<Policy>& policy,
           const std::vector<std::string>& protected_keys, const std::string& default_half) {
            auto list = to_backups(backups, default_half);
            const TimePoint t = to_time(now);
            const Policy pol = policy.value_or(Policy{});
            const std::set<std::string> prot(protected_keys.begin(), protected_keys.end());
            PyPlan out{{}, t, pol};
            {
                py::gil_scoped_release release;
                out.plan = retention::plan(std::move(list), t, pol, prot);
            }
            return out;
        },
        py::arg("backups"), py::arg("now"), py::arg("policy") = py::none(),
        py::arg("protected") = std::vector<std::string>{}, py::arg("default_half") = "db",
        "Plans retention for `backups` (Backup objects, or store keys / time stamps as strings) "
        "as of `now`. Raises ConfigError on bad input and Error when the plan would drop every "
        "backup of a half.");
    r.def(
        "backups_from_lines",
        [](const std::string& text, const std::string& default_half) {
            return catalog::backups_from_lines(text, default_half);
        },
        py::arg("text"), py::arg("default_half") = "db",
        "Backups from text, one key or time stamp per line (optionally followed by ok|failed "
        "and verified-ok|verified-failed).");

    r.def(
        "parse_timestamp", [](const std::string& s) { return from_time(parse_timestamp(s)); },
        py::arg("text"), "A `YYYYMMDDTHHMMSSZ` time stamp as an aware UTC datetime (strict).");
    r.def(
        "format_timestamp", [](const py::object& t) { return format_timestamp(to_time(t)); },
        py::arg("time"), "`YYYYMMDDTHHMMSSZ` of a time.");
    r.def(
        "parse_store_key",
        [](const std::string& key) -> py::object {
            const auto k = catalog::parse_store_key(key);
            if (!k) return py::none();
            py::dict d;
            d["prefix"] = k->prefix;
            d["half"] = k->half;
            d["time"] = from_time(k->time);
            d["ts"] = format_timestamp(k->time);
            d["suffix"] = std::string(catalog::suffix_of(k->kind));
            d["is_backup"] = catalog::is_backup_object(k->kind);
            return std::move(d);
        },
        py::arg("key"),
        "Takes `<prefix>/<db|docs|manifests>/<ts><suffix>` apart (a dict), or None for any other "
        "key.");
});

}  // namespace
}  // namespace dolibak::python
