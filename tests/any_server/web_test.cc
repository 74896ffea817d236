// Servers no one here wrote, with no cooperation at all: a Flask app ready by
// a line of its log and by HTTP, stopped with SIGINT; `python3 -m
// http.server` ready by TCP connect; a grpcio server ready by its standard
// health service. Each gets a reserved port and a real request from the test.
#include <signal.h>

#include <string>

#include "fixture/fixture.h"
#include "fixture/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/any_server/wire_client.h"

namespace fixture {
namespace {

using ::fixture::testing::HttpGet;
using ::fixture::testing::HttpReply;
using ::fixture::testing::IsServing;
using ::fixture::testing::StoppedBySignal;
using ::fixture::testing::StoppedCleanly;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kPython[] = "/usr/bin/python3";

FixtureOptions Flask(Readiness ready) {
  FixtureOptions options;
  options.name = "web";
  options.program = Binary{kPython};
  options.args = {"tests/any_server/flask_app.py", "{port:http}"};
  options.ports = {"http"};
  options.ready = std::move(ready);
  options.stop_signal = SIGINT;
  return options;
}

void ExpectPage(Fixture& web, const std::string& path, const std::string& body) {
  ASSERT_OK_AND_ASSIGN(std::string address, web.endpoint("http"));
  ASSERT_OK_AND_ASSIGN(HttpReply reply, HttpGet(address, path));
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.body, HasSubstr(body));
}

TEST(FlaskTest, ReadyByTheLineItLogsServesAGetAndStopsOnSigint) {
  ASSERT_OK_AND_ASSIGN(Fixture web, Fixture::Start(Flask(ReadyByLog{"Running on http://127\\.0\\.0\\.1:[0-9]+"})));
  ExpectPage(web, "/", "hello from flask");
  EXPECT_THAT(web.status(), IsServing());
  EXPECT_THAT(web.Stop(), AllOf(StoppedBySignal(SIGINT), StoppedCleanly()));
}

TEST(FlaskTest, ReadyByHttpServesAGetAndStopsOnSigint) {
  ASSERT_OK_AND_ASSIGN(Fixture web, Fixture::Start(Flask(ReadyByHttp{"http", "/healthz"})));
  ExpectPage(web, "/", "hello from flask");
  EXPECT_THAT(web.Stop(), AllOf(StoppedBySignal(SIGINT), StoppedCleanly()));
}

TEST(HttpServerTest, PythonsHttpServerReadyByTcpConnectServesItsDirectory) {
  FixtureOptions options;
  options.name = "files";
  options.program = Binary{kPython};
  options.args = {"-m", "http.server", "--bind", "127.0.0.1", "--directory", "tests/any_server", "{port:http}"};
  options.ports = {"http"};
  options.ready = ReadyByTcp{"http"};
  ASSERT_OK_AND_ASSIGN(Fixture files, Fixture::Start(options));
  ExpectPage(files, "/flask_app.py", "from flask import Flask");
  // SIGTERM kills http.server (no handler): death by the very signal it was
  // sent is a clean stop.
  EXPECT_THAT(files.Stop(), AllOf(StoppedBySignal(SIGTERM), StoppedCleanly()));
}

TEST(GrpcHealthTest, AGrpcioServerIsReadyWhenItsHealthServiceSaysServing) {
  FixtureOptions options;
  options.name = "health";
  options.program = Binary{"tests/any_server/health_server"};
  options.args = {"{port:grpc}", "0.2"};
  options.ports = {"grpc"};
  options.ready = ReadyByGrpcHealth{"grpc", ""};
  ASSERT_OK_AND_ASSIGN(Fixture health, Fixture::Start(options));
  ASSERT_OK_AND_ASSIGN(v1::Status status, health.status());
  EXPECT_THAT(status.labels(), Contains(Pair("readiness", "grpc_health")));
  EXPECT_THAT(health.Stop(), StoppedCleanly());
}

}  // namespace
}  // namespace fixture
