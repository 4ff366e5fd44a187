// Report writers (spec/10-conformance.md 10.8): JSON, JUnit XML and the human
// table. A row shows a tier only when it judged a case.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "mls/conformance/campaign.hpp"

namespace mls::conformance {

namespace {
bool is_reduction(const std::string& op) { return op == "conv2d" || op == "gemm"; }

// "pass", "mismatch", "backend_failure", or "interrupted" (unless `counts_only`:
// then the verdict of the cases judged so far).
std::string result_word(const CampaignReport& r, bool counts_only = false) {
  if (r.interrupted && !counts_only) return "interrupted";
  CampaignReport c = r;
  c.interrupted = false;
  const int rc = c.exit_code();
  return rc == 0 ? "pass" : rc == 1 ? "mismatch" : "backend_failure";
}

std::string interrupt_text(const CampaignReport& r) {
  return "interrupted by " + (r.interrupt_signal.empty() ? std::string("a signal") : r.interrupt_signal) + " after " +
         std::to_string(r.cases_done()) +
         (r.cases_planned ? " of " + std::to_string(r.cases_planned) : std::string()) +
         " cases; the counts are those of the cases judged so far";
}
}  // namespace

int CampaignReport::exit_code() const {
  if (interrupted) return interrupt_exit > 0 ? interrupt_exit : 130;  // a partial run never reads as a verdict
  bool mismatch = false, failure = aborted;
  for (const auto& [op, t] : per_op) {
    mismatch = mismatch || t.mismatched > 0;
    failure = failure || t.backend_failures > 0;
  }
  return failure ? 2 : mismatch ? 1 : 0;
}

nlohmann::json CampaignReport::to_json() const {
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [op, t] : per_op) {
    ops[op] = {{"passed", t.passed}, {"mismatched", t.mismatched}, {"skipped", t.skipped},
               {"backend_failures", t.backend_failures}, {"failures", t.failures}};
    if (t.not_run > 0) ops[op]["not_run"] = t.not_run;
    if (is_reduction(op) && t.judged() > 0) {
      ops[op]["tier"] = to_string(t.worst_tier);
      ops[op]["worst_ulps"] = std::isfinite(t.worst_ulps) ? nlohmann::json(t.worst_ulps) : nlohmann::json("inf");
    }
  }
  const int rc = exit_code();
  nlohmann::json j{{"backend", backend}, {"ops", ops}, {"aborted", aborted}, {"abort_reason", abort_reason},
                   {"seconds", seconds}, {"result", result_word(*this)}, {"exit_code", rc},
                   {"interrupted", interrupted}, {"cases_done", cases_done()}};
  if (cases_planned > 0) j["cases_planned"] = cases_planned;
  if (interrupted) {
    j["interrupt_signal"] = interrupt_signal;
    j["partial_result"] = result_word(*this, true);  // what the cases judged so far say
  }
  return j;
}

namespace {
std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' '; else o += c;
    }
  }
  return o;
}
}  // namespace

std::string CampaignReport::junit_xml() const {
  std::ostringstream o;
  int64_t tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const auto& [op, t] : per_op) {
    tests += t.passed + t.mismatched + t.skipped + t.backend_failures;
    failures += t.mismatched;
    errors += t.backend_failures;
    skipped += t.skipped;
  }
  if (interrupted) ++tests, ++errors;  // the run itself: an <error>, so a partial run never shows green
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mls check\" tests=\"" << tests << "\" failures=\""
    << failures << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\"" << seconds << "\">\n";
  for (const auto& [op, t] : per_op) {
    o << "  <testsuite name=\"" << xml_escape(backend + "." + op) << "\" tests=\""
      << t.passed + t.mismatched + t.skipped + t.backend_failures << "\" failures=\"" << t.mismatched << "\" errors=\""
      << t.backend_failures << "\" skipped=\"" << t.skipped << "\">\n";
    o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"passed cases\" assertions=\"" << t.passed << "\"/>\n";
    for (const auto& f : t.failures) {
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"" << xml_escape(f.value("summary", "case")) << "\">\n"
        << "      <failure message=\"" << xml_escape(f.value("cause", "mismatch")) << "\">" << xml_escape(f.dump(2))
        << "</failure>\n    </testcase>\n";
    }
    if (t.backend_failures > 0)
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"backend failures\"><error message=\""
        << t.backend_failures << " backend failures (crash, hang or malformed reply)\"/></testcase>\n";
    if (t.skipped > 0)
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"unsupported cases\"><skipped message=\"" << t.skipped
        << " cases declared unsupported by the backend\"/></testcase>\n";
    o << "  </testsuite>\n";
  }
  if (interrupted) {
    o << "  <testsuite name=\"" << xml_escape(backend + ".run") << "\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n"
      << "    <properties><property name=\"interrupted\" value=\"" << xml_escape(interrupt_signal) << "\"/></properties>\n"
      << "    <testcase classname=\"run\" name=\"interrupted\"><error type=\"interrupted\" message=\""
      << xml_escape(interrupt_text(*this)) << "\"/></testcase>\n  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

void CampaignReport::print_summary(std::ostream& os) const {
  os << "backend: " << backend << "\n";
  os << std::left << std::setw(12) << "op" << std::right << std::setw(9) << "passed" << std::setw(11) << "mismatch"
     << std::setw(9) << "skipped" << std::setw(10) << "failures" << "  tier (worst ulps)\n";
  for (const auto& [op, t] : per_op) {
    os << std::left << std::setw(12) << op << std::right << std::setw(9) << t.passed << std::setw(11) << t.mismatched
       << std::setw(9) << t.skipped << std::setw(10) << t.backend_failures;
    if (is_reduction(op) && t.judged() > 0) os << "  " << to_string(t.worst_tier) << " (" << t.worst_ulps << ")";
    os << "\n";
  }
  if (aborted) os << "ABORTED: " << abort_reason << "\n";
  if (interrupted) os << "INTERRUPTED: " << interrupt_text(*this) << "\n";
  const std::string w = result_word(*this, true);
  const std::string verdict = w == "pass" ? "PASS" : w == "mismatch" ? "MISMATCH" : "BACKEND FAILURE";
  os << "result: " << (interrupted ? "INTERRUPTED (so far: " + verdict + ")" : verdict) << " (" << std::fixed
     << std::setprecision(2) << seconds << " s)\n";
  os.unsetf(std::ios::floatfield);
}

void print_mismatch(std::ostream& log, const CaseResult& rr) {
  if (rr.status == Status::rejected && !rr.golden_rejects) log << "  backend rejected a valid case: " << rr.message << "\n";
  const Verdict& v = rr.verdict;
  for (const auto& d : v.diffs) log << "  " << d.field << ": expected " << d.expected << ", got " << d.got << "\n";
  if (v.diff_count > v.diffs.size()) log << "  ... " << v.diff_count << " fields differ in all\n";
  if (!v.detail.is_null()) log << "  first difference: " << v.detail.dump() << "\n";
  if (!v.cause.empty()) log << "  likely cause [" << v.cause_id << "]: " << v.cause << "\n";
}

}  // namespace mls::conformance
