// The retention planner against golden files (tests/data/retention/): for each history
// (*.history.json, written by generate.py) and each of its policies (policies.json), the plan
// must be exactly the one in *.expected.txt: keep or drop, reasons and detail of every backup.
// DOLIBAK_UPDATE_GOLDEN=1 rewrites the expected files instead (review the diff!); see
// docs/testing.md.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/timezone.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace dolibak;
using namespace dolibak::retention;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() {
    return test::source_dir() / "tests" / "data" / "retention";
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot read " << p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

Policy policy_from_json(const nlohmann::json& j, const retention::TimeZone& zone) {
    Policy p;
    p.zone = zone;
    const auto mode = j.at("mode").get<std::string>();
    if (mode == "count") {
        p.mode = Policy::Mode::count;
        p.count.last = j.value("last", 0);
        p.count.hourly = j.value("hourly", 0);
        p.count.daily = j.value("daily", 0);
        p.count.weekly = j.value("weekly", 0);
        p.count.monthly = j.value("monthly", 0);
        p.count.yearly = j.value("yearly", 0);
        p.count.keep_oldest_if_unfilled = j.value("keep_oldest_if_unfilled", true);
    } else {
        REQUIRE(mode == "tiered");
        p.tiered.daily_days = j.value("daily_days", p.tiered.daily_days);
        p.tiered.monthly_months = j.value("monthly_months", p.tiered.monthly_months);
        p.tiered.yearly_years = j.value("yearly_years", p.tiered.yearly_years);
    }
    return p;
}

Verification verification_from(const std::string& s) {
    if (s == "good") return Verification::good;
    if (s == "failed") return Verification::failed;
    REQUIRE(s == "unknown");
    return Verification::unknown;
}

// The plan as text, one line per backup: keep|drop, key, its state, reasons, detail.
std::string render(const std::string& name, const Policy& policy, const Plan& p) {
    std::ostringstream out;
    std::map<std::string, std::size_t> counts;
    for (const auto& d : p.decisions)
        for (const auto r : d.reasons) ++counts[std::string(to_string(r))];
    out << "## " << name << ": " << describe(policy) << "\n";
    out << "## " << p.kept() << " kept, " << p.dropped() << " dropped;";
    for (const auto& [r, n] : counts) out << " " << r << " " << n;
    out << "\n";
    for (const auto& d : p.decisions) {
        const Backup b = p.backup(d).to_backup();
        std::string state = b.ok ? "ok" : "failed";
        if (b.verified != Verification::unknown)
            state +=
                std::string(" verified-") + (b.verified == Verification::good ? "ok" : "failed");
        std::string reasons;
        for (const auto r : d.reasons)
            reasons += (reasons.empty() ? "" : ",") + std::string(to_string(r));
        out << (d.keep ? "keep" : "drop") << "  " << b.key << "  " << state << "  "
            << (reasons.empty() ? "-" : reasons) << "  " << p.detail(d) << "\n";
    }
    return out.str();
}

// The first line where two texts differ, for a readable failure.
std::string first_difference(const std::string& want, const std::string& got) {
    std::istringstream a(want), b(got);
    std::string la, lb;
    for (int line = 1;; ++line) {
        const bool ha = static_cast<bool>(std::getline(a, la));
        const bool hb = static_cast<bool>(std::getline(b, lb));
        if (!ha && !hb) return "";
        if (!ha || !hb || la != lb)
            return "line " + std::to_string(line) + ":\n  expected: " + (ha ? la : "<end>") +
                   "\n  planned:  " + (hb ? lb : "<end>");
    }
}

}  // namespace

TEST_CASE("retention plans match the golden files") {
    const auto policies = nlohmann::json::parse(read_text(data_dir() / "policies.json"));
    const char* env = std::getenv("DOLIBAK_UPDATE_GOLDEN");
    const bool update = env && std::string(env) == "1";
    std::vector<fs::path> histories;
    for (const auto& e : fs::directory_iterator(data_dir())) {
        const auto n = e.path().filename().string();
        if (n.size() > 13 && n.compare(n.size() - 13, 13, ".history.json") == 0)
            histories.push_back(e.path());
    }
    std::sort(histories.begin(), histories.end());
    REQUIRE(histories.size() >= 4);
    for (const auto& path : histories) {
        const auto name = path.filename().string().substr(0, path.filename().string().size() - 13);
        CAPTURE(name);
        const auto h = nlohmann::json::parse(read_text(path));
        const TimePoint now = parse_timestamp(h.at("now").get<std::string>());
        const retention::TimeZone zone =
            retention::TimeZone::locate(h.at("time_zone").get<std::string>());
        std::vector<Backup> backups;
        for (const auto& b : h.at("backups"))
            backups.push_back({b.at("key").get<std::string>(),
                               parse_timestamp(b.at("time").get<std::string>()),
                               b.at("half").get<std::string>(), b.value("ok", true),
                               verification_from(b.value("verified", "unknown"))});
        std::set<std::string> protected_keys;
        for (const auto& k : h.at("protected")) protected_keys.insert(k.get<std::string>());

        std::string got = "# " + name + ": " + h.at("description").get<std::string>() + "\n# now " +
                          format_rfc3339(now) + ", " + std::to_string(backups.size()) +
                          " backups\n";
        for (const auto& pn : h.at("policies")) {
            const auto policy_name = pn.get<std::string>();
            REQUIRE_MESSAGE(policies.contains(policy_name), policy_name);
            const Policy pol = policy_from_json(policies.at(policy_name), zone);
            got += "\n" + render(policy_name, pol, plan(backups, now, pol, protected_keys));
        }
        const fs::path expected_path = data_dir() / (name + ".expected.txt");
        if (update) {
            std::ofstream(expected_path, std::ios::binary) << got;
            MESSAGE("rewrote " << expected_path);
            continue;
        }
        REQUIRE_MESSAGE(fs::exists(expected_path),
                        expected_path << " is missing (DOLIBAK_UPDATE_GOLDEN=1 writes it)");
        const std::string want = read_text(expected_path);
        const std::string diff = first_difference(want, got);
        CHECK_MESSAGE(diff.empty(), name << ".expected.txt differs at " << diff);
    }
}
