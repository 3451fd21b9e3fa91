// The end-to-end harness: a real redis-server, librdkafka's mock cluster over TCP, the
// dispatcher as a real subprocess, and in-process HTTP sinks that record every request.
//
//   class DeliveryTest : public tresse::test::integration_test {};
//   TEST_F(DeliveryTest, Delivers) {
//     tresse::test::recording_sink sink;                       // answers 200
//     auto ep = create_endpoint("biz_1", sink.url(), "*");     // `endpoints create`
//     auto& d = start_dispatcher();                            // `run --set ...`
//     auto ev = make_event("client.created", "biz_1");
//     publish({ev});
//     ASSERT_TRUE(sink.wait_for_count(1));
//     EXPECT_TRUE(verify(sink.requests()[0], {ep.secret}));
//   }
//
// Every wait is a poll with a deadline (generous: the machine is small and shared); nothing
// sleeps for a fixed time. On a failed test, TearDown prints the dispatchers' log tails.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/kafka_cluster.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "tresse/common/event.hpp"
#include "tresse/common/http_server.hpp"
#include "tresse/common/publisher.hpp"
#include "tresse/receiver/verify.hpp"

namespace tresse::test {

using namespace std::chrono_literals;

// How long any "it eventually happens" wait may take on a loaded 2-core machine.
inline constexpr std::chrono::milliseconds eventually = 20s;

// One request as a sink saw it.
struct received_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point at;  // when it arrived
  int attempt = 0;                           // 1 + earlier requests with this webhook-id
  unsigned answered = 0;                     // the status the sink answered (0: never)

  // The header's value, or "" when absent.
  std::string header(const std::string& lower_case_name) const;
};

// What a sink answers to one request.
struct sink_reply {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // before answering
  bool hang = false;                   // never answer (until the sink stops)
};

// An HTTP endpoint on 127.0.0.1 that records every request and answers per `behaviour`
// (default: 200 at once).
class recording_sink {
 public:
  using behaviour = std::function<sink_reply(const received_request&)>;

  explicit recording_sink(behaviour b = {}, std::size_t threads = 2);
  ~recording_sink();
  recording_sink(const recording_sink&) = delete;
  recording_sink& operator=(const recording_sink&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/hook") const;

  std::vector<received_request> requests() const;
  std::size_t count() const;
  // Distinct webhook-ids received / answered 2xx.
  std::set<std::string> ids() const;
  std::set<std::string> delivered_ids() const;

  // Poll until the condition holds; false at the deadline.
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = eventually) const;
  bool wait_for_ids(std::size_t n, std::chrono::milliseconds timeout = eventually) const;
  bool wait_for_delivered(std::size_t n, std::chrono::milliseconds timeout = eventually) const;

 private:
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;

  behaviour behaviour_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<received_request> requests_;
  std::map<std::string, int> attempts_;  // by webhook-id
  std::optional<tresse::http::server> server_;
  std::uint16_t port_ = 0;
};

// Checks a recorded request's signature with `secrets` (any one matching suffices).
tresse::receiver::verification verify(const received_request& r,
                                      const std::vector<std::string>& secrets);

// The entries of a webhook-signature header ("v1,..." separated by spaces).
std::vector<std::string> signature_entries(const std::string& header);

// `tresse-dispatcher run` as a child process whose stdout and stderr go to `log_file`.
class dispatcher_process {
 public:
  dispatcher_process(const std::vector<std::string>& settings, std::filesystem::path log_file);
  ~dispatcher_process();  // SIGKILL if still running
  dispatcher_process(const dispatcher_process&) = delete;
  dispatcher_process& operator=(const dispatcher_process&) = delete;

  pid_t pid() const { return process_.pid(); }
  const std::filesystem::path& log_file() const { return log_file_; }
  // The log's JSON lines (others skipped).
  std::vector<nlohmann::json> log_lines() const;
  std::string log_text() const;
  // Polls the log for a line whose "msg" is `msg` (and that `pred` accepts, if given).
  std::optional<nlohmann::json> wait_for_log(
      std::string_view msg, const std::function<bool(const nlohmann::json&)>& pred = {},
      std::chrono::milliseconds timeout = eventually) const;

  // The admin listener's port, from the "dispatcher running" line. Throws if it never came.
  std::uint16_t admin_port() const;
  // The management API's port, from the "management API listening" line. Throws if none.
  std::uint16_t api_port() const;

  void kill();                                                      // SIGKILL, then reap
  std::optional<int> terminate(std::chrono::milliseconds timeout);  // SIGTERM; exit code
  bool running();
  // The exit code once running() saw it exit on its own (or terminate() ended it).
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  std::uint16_t logged_port(std::string_view msg, const char* field) const;

  std::filesystem::path log_file_;
  child_process process_;
  bool exited_ = false;
  std::optional<int> exit_code_;
};

struct endpoint_info {
  std::string id;
  std::string secret;
  nlohmann::json json;  // what `endpoints create` printed
};

// The base fixture: per test a temp dir, a redis-server (AOF persistence on, so a restart keeps
// the data), a mock Kafka cluster, and helpers around the dispatcher's CLI.
class integration_test : public ::testing::Test {
 protected:
  integration_test();
  ~integration_test() override;
  void TearDown() override;

  // Settings every dispatcher gets (before `extra`, which win): brokers, redis_url_, admin port 0,
  // private networks allowed, retries 200ms,200ms,200ms without jitter, registry refresh
  // 100ms, fast consumer-group settings for the mock cluster.
  std::vector<std::string> base_settings() const;
  dispatcher_process& start_dispatcher(const std::vector<std::string>& extra = {},
                                       bool allow_private_networks = true);

  // `tresse-dispatcher <args...> --redis redis_url_`; fails the test on a non-zero exit.
  nlohmann::json cli(std::vector<std::string> args);
  endpoint_info create_endpoint(const std::string& business, const std::string& url,
                                const std::string& events);
  nlohmann::json get_endpoint(const std::string& id);
  // `deliveries list --endpoint ID` → its "data" array (newest first).
  nlohmann::json attempts(const std::string& endpoint_id, int limit = 100);

  events::event make_event(const std::string& type, const std::string& business,
                           const std::string& data_json = R"({"id":"obj_1"})");
  // Publishes (keyed by business) and waits for Kafka's acknowledgements.
  void publish(const std::vector<events::event>& evs);
  // Produces raw bytes (not validated), for poison messages.
  void produce_raw(const std::string& key, const std::string& value);

  std::filesystem::path dir_;
  redis_server redis_;
  // What the dispatchers and the CLI are given: redis_'s URL unless a test points them
  // elsewhere (a Redis Cluster, sentinels).
  std::string redis_url_;
  kafka_cluster kafka_;
  std::unique_ptr<events::publisher> publisher_;
  std::vector<std::unique_ptr<dispatcher_process>> dispatchers_;
};

// The dispatcher's default topics (config.hpp), which the tests leave as they are.
std::string events_topic();
std::string dead_letter_topic();
std::string ops_topic();

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its last value.
bool eventually_true(const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = eventually);

// GET on 127.0.0.1:port; status and body (status 0 when the connection failed).
std::pair<unsigned, std::string> http_get(std::uint16_t port, const std::string& target);

}  // namespace tresse::test
