// The JUnit XML report of a `fixturectl run` under `bazel test`
// (XML_OUTPUT_FILE): a test case for each server's start and stop, with the
// failure text (exit status, stderr tail) when one went wrong, beside the
// wrapped test's own cases.
//
// CMD is given a file of its own as XML_OUTPUT_FILE (and GTEST_OUTPUT, if
// Bazel set one, pointed there), so that a gtest or any JUnit-writing test
// still reports its cases; Write() then puts a testsuite "fixture" first and
// CMD's testsuites after it into Bazel's XML_OUTPUT_FILE. A CMD that wrote
// none is one case of its own, failed when its exit status was not 0. Without
// --junit (fixture_test passes it) or XML_OUTPUT_FILE, nothing is done.
//
//   JunitReport report = JunitReport::FromEnvironment(line.junit);
//   report.AddCase("start kv", ready - start, "");
//   report.AddCommandVariables(&cmd_env);
//   ...
//   report.Write("kv_test", exit_code);
#ifndef FIXTURE_TOOLS_FIXTURECTL_JUNIT_H_
#define FIXTURE_TOOLS_FIXTURECTL_JUNIT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fixture/launch/environment.h"

namespace fixturectl {

class JunitReport {
 public:
  // Reads XML_OUTPUT_FILE and GTEST_OUTPUT; disabled unless `wanted`
  // (--junit) and the first is set.
  static JunitReport FromEnvironment(bool wanted);

  bool enabled() const { return !path_.empty(); }

  // One test case of the "fixture" suite; `failure` "" for a passed one,
  // else its text (the first line becomes the message).
  void AddCase(std::string name, absl::Duration time, std::string failure);

  // Points CMD's XML_OUTPUT_FILE (and GTEST_OUTPUT=xml:...) to a file of
  // its own beside Bazel's.
  void AddCommandVariables(fixture::EnvironmentChange* env) const;

  // Writes Bazel's XML_OUTPUT_FILE (see above) and removes CMD's file. A
  // failure to write is said on stderr (Bazel then writes its own report).
  void Write(const std::string& cmd_name, int exit_code) const;

 private:
  struct Case {
    std::string name;
    absl::Duration time;
    std::string failure;
  };
  std::string path_;
  bool gtest_output_ = false;
  std::vector<Case> cases_;
};

// `text` with &, <, >, " and ' as entities and the control characters XML
// forbids dropped.
std::string XmlEscape(const std::string& text);

}  // namespace fixturectl

#endif  // FIXTURE_TOOLS_FIXTURECTL_JUNIT_H_
