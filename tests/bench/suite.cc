#include "tests/bench/suite.h"

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixture/fixture.h"
#include "fixture/fixture_pool.h"
#include "fixture/shared_fixture.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace fixture::bench {
namespace {

// The body of one short test on `channel`: `rpcs` Puts around its wait on I/O.
absl::Status TestBody(const SuiteOptions& options, const std::shared_ptr<grpc::Channel>& channel) {
  if (absl::Status put = Put(channel); !put.ok()) return put;
  absl::SleepFor(options.test_io);
  for (int i = 1; i < options.rpcs; ++i) {
    if (absl::Status put = Put(channel); !put.ok()) return put;
  }
  return absl::OkStatus();
}

absl::Status StoppedCleanly(const absl::StatusOr<StopResult>& stopped) {
  if (!stopped.ok()) return stopped.status();
  if (!stopped->clean()) return absl::InternalError(absl::StrCat("stop not clean: ", stopped->ToString()));
  return absl::OkStatus();
}

// One test with a fresh fixture (fork server or exec), stopped synchronously
// as a test's fixture is at its end.
absl::Status FixtureTest(const Context& ctx, const SuiteOptions& options, bool fork_server, int n) {
  absl::StatusOr<Fixture> kv =
      Fixture::Start(BenchKvOptions(ctx, absl::StrCat(fork_server ? "suite-fs-" : "suite-exec-", n), fork_server));
  if (!kv.ok()) return kv.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = kv->channel();
  if (!channel.ok()) return channel.status();
  absl::Status body = TestBody(options, *channel);
  absl::Status stopped = StoppedCleanly(kv->Stop());
  return body.ok() ? stopped : body;
}

absl::Status PolledTest(const Context& ctx, const SuiteOptions& options) {
  absl::StatusOr<PolledKv> kv = StartPolled(ctx, absl::Milliseconds(100));
  if (!kv.ok()) return kv.status();
  absl::Status body = TestBody(options, grpc::CreateChannel(kv->target(), grpc::InsecureChannelCredentials()));
  absl::Status stopped = StopPolled(*kv);
  return body.ok() ? stopped : body;
}

absl::Status InProcessTest(const SuiteOptions& options) {
  absl::StatusOr<InProcessKv> kv = StartInProcess(/*with_port=*/true);
  if (!kv.ok()) return kv.status();
  absl::Status body =
      TestBody(options, grpc::CreateChannel(absl::StrCat("127.0.0.1:", kv->port), grpc::InsecureChannelCredentials()));
  StopInProcess(*kv);
  return body;
}

// Runs `test` options.tests times (stopping at the first failure) between
// `set_up` and `tear_down`, all timed.
SuiteRun Timed(std::string name, std::string description, const SuiteOptions& options,
               const std::function<absl::Status()>& set_up, const std::function<absl::Status(int)>& test,
               const std::function<absl::Status()>& tear_down) {
  SuiteRun run{std::move(name), std::move(description)};
  const Clock::time_point start = Clock::now();
  absl::Status status = set_up();
  for (int i = 0; status.ok() && i < options.tests; ++i) status = test(i);
  absl::Status down = tear_down();
  run.total_us = MicrosSince(start);
  if (status.ok()) status = down;
  if (!status.ok()) {
    run.failures = 1;
    run.last_error = status.ToString();
  }
  return run;
}

}  // namespace

const SuiteRun* SuiteResult::Find(const std::string& name) const {
  for (const SuiteRun& run : runs) {
    if (run.name == name) return &run;
  }
  return nullptr;
}

SuiteResult RunSuites(const Context& ctx, const SuiteOptions& options) {
  SuiteResult result{options, {}};
  std::vector<SuiteRun>& runs = result.runs;
  auto none = [] { return absl::OkStatus(); };

  std::optional<Fixture> shared;
  std::shared_ptr<grpc::Channel> shared_channel;
  runs.push_back(Timed(
      "shared", "one BenchKv fixture (fork server) for all tests, one channel", options,
      [&]() -> absl::Status {
        absl::StatusOr<Fixture> kv = Fixture::Start(BenchKvOptions(ctx, "suite-shared", /*fork_server=*/true));
        if (!kv.ok()) return kv.status();
        shared.emplace(*std::move(kv));
        absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = shared->channel();
        if (!channel.ok()) return channel.status();
        shared_channel = *channel;
        return absl::OkStatus();
      },
      [&](int) { return TestBody(options, shared_channel); },
      [&]() -> absl::Status {
        shared_channel.reset();
        if (!shared.has_value()) return absl::OkStatus();
        absl::Status stopped = StoppedCleanly(shared->Stop());
        shared.reset();
        return stopped;
      }));

  // What a suite that shares a server pays in practice: SharedFixture's
  // check and Reset after each test, so that each test sees an empty store.
  std::optional<testing::SharedFixture> shared_reset;
  runs.push_back(Timed(
      "shared_reset", "one BenchKv (fork server) in a SharedFixture: reset and checked after each test", options,
      [&]() -> absl::Status {
        shared_reset.emplace(BenchKvOptions(ctx, "suite-shared-reset", /*fork_server=*/true));
        return absl::OkStatus();
      },
      [&](int) -> absl::Status {
        absl::StatusOr<Fixture*> kv = shared_reset->BeforeTest();
        if (!kv.ok()) return kv.status();
        absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = (*kv)->channel();
        if (!channel.ok()) return channel.status();
        absl::Status body = TestBody(options, *channel);
        absl::Status after = shared_reset->AfterTest();
        return body.ok() ? after : body;
      },
      [&]() -> absl::Status {
        if (!shared_reset.has_value()) return absl::OkStatus();
        absl::StatusOr<std::optional<StopResult>> stopped = shared_reset->Stop();
        shared_reset.reset();
        if (!stopped.ok()) return stopped.status();
        return stopped->has_value() ? StoppedCleanly(**stopped) : absl::OkStatus();
      }));

  std::unique_ptr<FixturePool> pool;
  runs.push_back(Timed(
      "pool",
      absl::StrCat("a fresh BenchKv per test from a FixturePool of ", options.pool_size,
                   " (Acquire, warm channel, Release in the background)"),
      options,
      [&]() -> absl::Status {
        FixturePoolOptions pool_options;
        pool_options.server = BenchKvOptions(ctx, "suite-pool", /*fork_server=*/true);
        pool_options.size = options.pool_size;
        absl::StatusOr<std::unique_ptr<FixturePool>> created = FixturePool::Create(std::move(pool_options));
        if (!created.ok()) return created.status();
        pool = *std::move(created);
        return absl::OkStatus();
      },
      [&](int) -> absl::Status {
        absl::StatusOr<PooledFixture> kv = pool->Acquire(absl::Seconds(30));
        if (!kv.ok()) return kv.status();
        absl::Status body = TestBody(options, kv->channel);
        kv->channel.reset();
        pool->Release(std::move(kv->fixture));
        return body;
      },
      [&]() -> absl::Status {
        if (pool == nullptr) return absl::OkStatus();
        absl::Status shut = pool->Shutdown();
        pool.reset();
        return shut;
      }));

  runs.push_back(Timed(
      "fork_server", "a fresh BenchKv fixture per test by the fork server, Stop() at its end", options, none,
      [&](int i) { return FixtureTest(ctx, options, /*fork_server=*/true, i); }, none));
  runs.push_back(Timed(
      "exec", "a fresh kv_server fixture per test by fork+exec, Stop() at its end", options, none,
      [&](int i) { return FixtureTest(ctx, options, /*fork_server=*/false, i); }, none));
  runs.push_back(Timed(
      "poll_100ms", "a fresh kv_server per test, polled every 100 ms, SIGINT at its end", options, none,
      [&](int) { return PolledTest(ctx, options); }, none));
  runs.push_back(Timed(
      "in_process_grpc", "a fresh grpc::Server in this process per test on 127.0.0.1:0", options, none,
      [&](int) { return InProcessTest(options); }, none));
  return result;
}

}  // namespace fixture::bench
