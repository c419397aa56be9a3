#pragma once
// A plan's decisions as Python sees them (retention.Decision): each spelled out with its own
// copies (retention::Explained), so that it outlives the plan it came from.
#include <dolibak/retention/planner.hpp>

#include <vector>

namespace dolibak::python {

enum class Which { all, kept, dropped };

inline std::vector<retention::Explained> explained(const retention::Plan& p, Which which) {
    std::vector<retention::Explained> v;
    for (const auto& d : p.decisions)
        if (which == Which::all || d.keep == (which == Which::kept)) v.push_back(p.explain(d));
    return v;
}

}  // namespace dolibak::python
