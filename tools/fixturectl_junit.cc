#include "fixture/tools/fixturectl_junit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fixturectl {
namespace {

std::string CommandReportPath(const std::string& path) { return path + ".cmd.xml"; }

// The <testsuite> elements of a JUnit document: what is inside <testsuites>
// when there is one, else the document from its first <testsuite>. "" when
// it has none.
std::string Suites(const std::string& xml) {
  size_t open = xml.find("<testsuites");
  if (open != std::string::npos) {
    size_t body = xml.find('>', open);
    size_t close = xml.rfind("</testsuites>");
    if (body == std::string::npos || close == std::string::npos || close < body) return "";
    if (xml[body - 1] == '/') return "";  // <testsuites/>
    return xml.substr(body + 1, close - body - 1);
  }
  open = xml.find("<testsuite");
  return open == std::string::npos ? "" : xml.substr(open);
}

std::string Seconds(absl::Duration time) { return absl::StrCat(absl::ToDoubleSeconds(time)); }

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') break;
        out.push_back(c);
    }
  }
  return out;
}

JunitReport JunitReport::FromEnvironment(bool wanted) {
  JunitReport report;
  if (const char* path = getenv("XML_OUTPUT_FILE"); wanted && path != nullptr) report.path_ = path;
  const char* gtest = getenv("GTEST_OUTPUT");
  report.gtest_output_ = gtest != nullptr && absl::StartsWith(gtest, "xml");
  return report;
}

void JunitReport::AddCase(std::string name, absl::Duration time, std::string failure) {
  cases_.push_back({std::move(name), time, std::move(failure)});
}

void JunitReport::AddCommandVariables(fixture::EnvironmentChange* env) const {
  if (!enabled()) return;
  unlink(CommandReportPath(path_).c_str());
  env->set.emplace_back("XML_OUTPUT_FILE", CommandReportPath(path_));
  if (gtest_output_) env->set.emplace_back("GTEST_OUTPUT", "xml:" + CommandReportPath(path_));
}

void JunitReport::Write(const std::string& cmd_name, int exit_code) const {
  if (!enabled()) return;
  std::string inner;
  {
    std::ifstream file(CommandReportPath(path_));
    std::stringstream text;
    if (file) text << file.rdbuf();
    inner = Suites(text.str());
  }
  unlink(CommandReportPath(path_).c_str());
  std::vector<Case> cases = cases_;
  if (inner.empty()) {
    cases.push_back(
        {cmd_name, absl::ZeroDuration(),
         exit_code == 0 ? "" : absl::StrCat(cmd_name, " exited with status ", exit_code, " (see the test log)")});
  }
  int failures = 0;
  absl::Duration total;
  for (const Case& c : cases) {
    failures += c.failure.empty() ? 0 : 1;
    total += c.time;
  }
  std::string xml = absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n",
                                 "  <testsuite name=\"fixture\" tests=\"", cases.size(), "\" failures=\"", failures,
                                 "\" errors=\"0\" time=\"", Seconds(total), "\">\n");
  for (const Case& c : cases) {
    absl::StrAppend(&xml, "    <testcase name=\"", XmlEscape(c.name), "\" classname=\"fixture\" time=\"",
                    Seconds(c.time), "\"");
    if (c.failure.empty()) {
      absl::StrAppend(&xml, "/>\n");
      continue;
    }
    const std::string first = c.failure.substr(0, c.failure.find('\n'));
    absl::StrAppend(&xml, ">\n      <failure message=\"", XmlEscape(first), "\">", XmlEscape(c.failure),
                    "</failure>\n    </testcase>\n");
  }
  absl::StrAppend(&xml, "  </testsuite>\n", inner, "\n</testsuites>\n");
  std::ofstream out(path_, std::ios::trunc);
  out << xml;
  if (!out.good()) fprintf(stderr, "fixturectl: cannot write the test report %s\n", path_.c_str());
}

}  // namespace fixturectl
