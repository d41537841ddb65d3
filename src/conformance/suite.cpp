#include "conformance/suite.h"

#include <cstdio>
#include <iomanip>

#include "conformance/cases.h"
#include "util/error.h"

namespace dd::conformance {

namespace {

std::string format_diff(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

// The worst comparison, relative to its tolerance.
const Comparison* worst(const std::vector<Comparison>& comparisons) {
  const Comparison* worst = nullptr;
  double worst_ratio = -1;
  for (const auto& c : comparisons) {
    const double ratio =
        c.tolerance > 0 ? c.max_abs_diff / c.tolerance : (c.max_abs_diff > 0 ? 1e30 : 0);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = &c;
    }
  }
  return worst;
}

}  // namespace

int run_suite(const SuiteOptions& options, std::ostream& out) {
  const io::FixtureSet set(options.dir);
  FixtureModels models(set, options.device);
  int passed = 0, failed = 0, skipped = 0;
  for (const auto& c : set.cases()) {
    if (!options.only.empty() && c.name().find(options.only) == std::string::npos) continue;
    const std::string reason = unsupported_reason(c, models);
    if (!reason.empty()) {
      out << "SKIP " << std::left << std::setw(40) << c.name() << reason << "\n";
      ++skipped;
      continue;
    }
    try {
      const auto comparisons = run_case(set, c, models);
      if (comparisons.empty()) throw Error("no comparison was made");
      bool ok = true;
      for (const auto& comparison : comparisons) ok = ok && comparison.passed();
      const Comparison* w = worst(comparisons);
      out << (ok ? "PASS " : "FAIL ") << std::left << std::setw(40) << c.name() << "max|diff| "
          << format_diff(w->max_abs_diff) << " (tol " << format_diff(w->tolerance) << ", "
          << w->what << "; " << comparisons.size() << " checks)\n";
      if (options.verbose || !ok)
        for (const auto& comparison : comparisons)
          out << "      " << (comparison.passed() ? "ok  " : "BAD ") << comparison.what << ": "
              << format_diff(comparison.max_abs_diff) << " (tol "
              << format_diff(comparison.tolerance) << ")\n";
      ok ? ++passed : ++failed;
    } catch (const std::exception& e) {
      out << "FAIL " << std::left << std::setw(40) << c.name() << "cannot run: " << e.what()
          << "\n";
      ++failed;
    }
    out.flush();
  }
  out << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace dd::conformance
