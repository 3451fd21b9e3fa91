// tresse-webhook listen, run as a process and spoken to over real sockets.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "cli/webhook_cli.hpp"
#include "support/idle_flood.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::test {
namespace {

using namespace std::chrono_literals;

const std::string body = R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created","data":{}})";

class ListenCommandTest : public ::testing::Test {
 protected:
  // Starts `listen --port 0 --secret spec_secret <extra>` and reads its port from the first
  // line on stderr.
  void start(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--secret", std::string(spec_secret)});
    start_with_environment({}, extra);
  }

  // Starts `env <environment> listen --port 0 <extra>`, likewise.
  void start_with_environment(const std::vector<std::string>& environment,
                              const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"/usr/bin/env"};
    args.insert(args.end(), environment.begin(), environment.end());
    args.insert(args.end(), {TRESSE_WEBHOOK_BIN, "listen", "--port", "0"});
    args.insert(args.end(), extra.begin(), extra.end());
    listen_.emplace(child_process::start(args));
    auto first = listen_->stderr_line(30s);
    ASSERT_TRUE(first) << "listen printed nothing on stderr";
    std::smatch m;
    static const std::regex where(R"(listening on http://127\.0\.0\.1:(\d+)$)");
    ASSERT_TRUE(std::regex_search(*first, m, where)) << *first;
    port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
    ASSERT_NE(port_, 0);
  }

  // Headers of a webhook signed now with the listener's secret.
  static http_headers signed_headers(const std::string& id, const std::string& payload) {
    std::error_code ec;
    auto key = receiver::key::parse(spec_secret, ec);
    auto ts = static_cast<std::int64_t>(std::time(nullptr));
    std::string signature = receiver::sign(key, id, ts, payload, ec);
    EXPECT_FALSE(ec);
    return {{"webhook-id", id},
            {"webhook-timestamp", std::to_string(ts)},
            {"webhook-signature", signature},
            {"tresse-event-type", "appointment.created"}};
  }

  nlohmann::json next_line() {
    auto line = listen_->stdout_line(30s);
    if (!line) {
      ADD_FAILURE() << "no JSON line on stdout";
      return nullptr;
    }
    return nlohmann::json::parse(*line);
  }

  std::optional<child_process> listen_;
  std::uint16_t port_ = 0;
};

TEST_F(ListenCommandTest, AcceptsASignedWebhookAndPrintsAJsonLine) {
  start();
  http_client client("127.0.0.1", port_);
  auto reply = client.post("/webhooks", signed_headers("evt_1", body), body);
  EXPECT_EQ(reply.status, 204);
  EXPECT_EQ(reply.body, "");

  auto line = next_line();
  EXPECT_EQ(line["id"], "evt_1");
  EXPECT_EQ(line["type"], "appointment.created");
  EXPECT_EQ(line["outcome"], "valid");
  EXPECT_TRUE(line["timestamp"].is_number_integer()) << line;
  EXPECT_EQ(line["body_bytes"], body.size());
  EXPECT_EQ(line["status"], 204);
}

TEST_F(ListenCommandTest, RejectsATamperedWebhookWith401AndTheErrorCode) {
  start();
  http_client client("127.0.0.1", port_);
  auto reply = client.post("/", signed_headers("evt_1", body), body + " ");
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(reply.header("content-type"), "application/json");
  auto error = nlohmann::json::parse(reply.body);
  EXPECT_EQ(error["error"]["code"], "no_matching_signature");
  EXPECT_EQ(error["error"]["status"], 401);
  EXPECT_TRUE(error["error"]["message"].is_string());

  auto line = next_line();
  EXPECT_EQ(line["outcome"], "no_matching_signature");
  EXPECT_EQ(line["status"], 401);
}

TEST_F(ListenCommandTest, RejectsAWebhookWithoutHeaders) {
  start();
  http_client client("127.0.0.1", port_);
  auto reply = client.post("/", {}, body);
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["error"]["code"], "missing_header");
  EXPECT_EQ(next_line()["outcome"], "missing_header");
}

TEST_F(ListenCommandTest, ServesSeveralRequestsOnOneConnection) {
  start();
  http_client client("127.0.0.1", port_);
  for (int i = 0; i < 5; ++i) {
    std::string id = "evt_" + std::to_string(i);
    auto reply = client.post("/", signed_headers(id, body), body);
    EXPECT_EQ(reply.status, 204) << i;
    EXPECT_TRUE(reply.keep_alive) << i;
    EXPECT_EQ(next_line()["id"], id);
  }
}

TEST_F(ListenCommandTest, AnswersPipelinedRequestsInOrder) {
  start();
  auto raw = [](const http_headers& headers, const std::string& payload) {
    std::string r = "POST / HTTP/1.1\r\nHost: test\r\n";
    for (const auto& [name, value] : headers) r += name + ": " + value + "\r\n";
    return r + "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;
  };
  http_client client("127.0.0.1", port_);
  client.write_raw(raw(signed_headers("evt_a", body), body) +
                   raw(signed_headers("evt_b", body), "tampered") +
                   raw(signed_headers("evt_c", body), body));
  EXPECT_EQ(client.read_reply().status, 204);
  EXPECT_EQ(client.read_reply().status, 401);
  EXPECT_EQ(client.read_reply().status, 204);
  EXPECT_EQ(next_line()["id"], "evt_a");
  EXPECT_EQ(next_line()["id"], "evt_b");
  EXPECT_EQ(next_line()["id"], "evt_c");
}

TEST_F(ListenCommandTest, ServesConcurrentConnectionsOnSeveralThreads) {
  start({"--threads", "2"});
  constexpr int clients = 8, requests = 20;
  std::vector<std::future<int>> accepted;
  for (int c = 0; c < clients; ++c) {
    accepted.push_back(std::async(std::launch::async, [this, c] {
      http_client client("127.0.0.1", port_);
      int ok = 0;
      for (int i = 0; i < requests; ++i) {
        std::string id = "evt_" + std::to_string(c) + "_" + std::to_string(i);
        ok += client.post("/", signed_headers(id, body), body).status == 204;
      }
      return ok;
    }));
  }
  int total = 0;
  for (auto& f : accepted) total += f.get();
  EXPECT_EQ(total, clients * requests);
  std::set<std::string> ids;
  for (int i = 0; i < clients * requests; ++i) ids.insert(next_line()["id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(clients * requests));
}

TEST_F(ListenCommandTest, StatusKnobAnswersValidWebhooks) {
  start({"--status", "202"});
  http_client client("127.0.0.1", port_);
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 202);
  EXPECT_EQ(client.post("/", signed_headers("evt_2", body), "tampered").status, 401);
  EXPECT_EQ(next_line()["status"], 202);
}

TEST_F(ListenCommandTest, FailEveryAnswers500ToEveryNthValidWebhook) {
  start({"--fail-every", "3"});
  http_client client("127.0.0.1", port_);
  std::vector<unsigned> statuses;
  for (int i = 0; i < 6; ++i) {
    statuses.push_back(
        client.post("/", signed_headers("evt_" + std::to_string(i), body), body).status);
  }
  EXPECT_EQ(statuses, (std::vector<unsigned>{204, 204, 500, 204, 204, 500}));
}

TEST_F(ListenCommandTest, DelayKnobDelaysTheAnswer) {
  start({"--delay-ms", "300"});
  http_client client("127.0.0.1", port_);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 204);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 300ms);
}

TEST_F(ListenCommandTest, ReplayGuardAcknowledgesADuplicateWith200) {
  // DESIGN.md "Receivers and duplicates": a 4xx would make the dispatcher retry, open the
  // circuit and dead-letter an event the receiver already has.
  start({"--replay-guard"});
  http_client client("127.0.0.1", port_);
  auto headers = signed_headers("evt_1", body);
  EXPECT_EQ(client.post("/", headers, body).status, 204);
  EXPECT_EQ(next_line()["outcome"], "valid");
  auto again = client.post("/", headers, body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(again.body), nlohmann::json({{"duplicate", true}}));
  auto line = next_line();
  EXPECT_EQ(line["id"], "evt_1");
  EXPECT_EQ(line["outcome"], "replayed");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(client.post("/", signed_headers("evt_2", body), body).status, 204);
  EXPECT_EQ(next_line()["outcome"], "valid");
}

TEST_F(ListenCommandTest, ReplayGuardStillRejectsAForgedDuplicate) {
  start({"--replay-guard"});
  http_client client("127.0.0.1", port_);
  auto headers = signed_headers("evt_1", body);
  EXPECT_EQ(client.post("/", headers, body).status, 204);
  // The same id with a body the signature does not cover is no duplicate: it is not authentic.
  auto forged = client.post("/", headers, body + " ");
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(nlohmann::json::parse(forged.body)["error"]["code"], "no_matching_signature");
}

TEST_F(ListenCommandTest, ReadsTheSecretsFromAFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("tresse_listen_secrets_" + std::to_string(::getpid()));
  std::ofstream(path) << "# rotation: the new secret, then the old one\n"
                      << other_secret << "\n\n  " << spec_secret << "  \n";
  start_with_environment({}, {"--secret-file", path.string()});
  std::filesystem::remove(path);
  http_client client("127.0.0.1", port_);
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 204);
  EXPECT_EQ(next_line()["outcome"], "valid");
}

TEST_F(ListenCommandTest, ReadsTheSecretsFromTheEnvironment) {
  start_with_environment(
      {"TRESSE_WEBHOOK_SECRET=" + std::string(other_secret) + " " + std::string(spec_secret)}, {});
  http_client client("127.0.0.1", port_);
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 204);
  EXPECT_EQ(next_line()["outcome"], "valid");
}

TEST_F(ListenCommandTest, ASecretOnTheCommandLineWinsOverTheEnvironment) {
  // The variable is read only when no option names a secret.
  start_with_environment({"TRESSE_WEBHOOK_SECRET=" + std::string(spec_secret)},
                         {"--secret", std::string(other_secret)});
  http_client client("127.0.0.1", port_);
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 401);
  EXPECT_EQ(next_line()["outcome"], "no_matching_signature");
}

TEST_F(ListenCommandTest, ReplayGuardLetsARetryInAfterAFailedAnswer) {
  start({"--replay-guard", "--fail-every", "1"});
  http_client client("127.0.0.1", port_);
  auto headers = signed_headers("evt_1", body);
  EXPECT_EQ(client.post("/", headers, body).status, 500);
  // We answered 500, so the sender retries with the same id: that is not a replay.
  EXPECT_EQ(client.post("/", headers, body).status, 500);
  next_line();
  EXPECT_EQ(next_line()["outcome"], "valid");
}

TEST_F(ListenCommandTest, AnswersAnOversizedBodyWith413) {
  start();
  http_client client("127.0.0.1", port_);
  std::string big(1024 * 1024 + 1, 'x');
  auto reply = client.post("/", signed_headers("evt_1", big), big);
  EXPECT_EQ(reply.status, 413);
  EXPECT_FALSE(reply.keep_alive);
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(ListenCommandTest, AnswersAMalformedRequestWith400) {
  start();
  http_client client("127.0.0.1", port_);
  client.write_raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  EXPECT_EQ(client.read_reply().status, 400);
}

TEST_F(ListenCommandTest, QuietPrintsNoLines) {
  start({"--quiet"});
  {
    http_client client("127.0.0.1", port_);
    EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 204);
  }
  listen_->send_signal(SIGTERM);
  EXPECT_EQ(listen_->wait(30s), 0);
  EXPECT_EQ(listen_->stdout_line(1s), std::nullopt);
}

TEST_F(ListenCommandTest, StopsCleanlyOnSigtermAndSigint) {
  for (int sig : {SIGTERM, SIGINT}) {
    start();
    listen_->send_signal(sig);
    EXPECT_EQ(listen_->wait(30s), 0) << sig;
    auto last = listen_->stderr_line(5s);
    ASSERT_TRUE(last) << sig;
    EXPECT_NE(last->find("stopped"), std::string::npos) << *last;
  }
}

TEST_F(ListenCommandTest, StopsPromptlyDespiteIdleKeepAliveConnections) {
  start();
  http_client client("127.0.0.1", port_);
  EXPECT_EQ(client.post("/", signed_headers("evt_1", body), body).status, 204);
  auto begin = std::chrono::steady_clock::now();
  listen_->send_signal(SIGTERM);
  EXPECT_EQ(listen_->wait(30s), 0);
  // Well under the 5 s drain deadline: idle connections are closed at once, not waited for.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 4s);
  EXPECT_TRUE(client.closed_by_peer());
}

// Posts a signed webhook on a new connection until one is answered 204 (the listener may close
// connections past its cap without an answer); false at the deadline.
bool eventually_accepted(std::uint16_t port, const http_headers& headers) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      http_client client("127.0.0.1", port, 5s);
      if (client.post("/", headers, body).status == 204) return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  return false;
}

// Polls until `n` of the flood's connections were closed by the listener.
bool eventually_closed(const idle_flood& flood, std::size_t n) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (flood.closed_by_peer() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  return flood.closed_by_peer() >= n;
}

TEST_F(ListenCommandTest, ClosesTheLongestIdleConnectionsPastItsCapAndAcceptsAWebhookAtOnce) {
  start({"--max-connections", "16"});
  auto flood = std::make_unique<idle_flood>("127.0.0.1", port_, 300);
  ASSERT_EQ(flood->count(), 300u);
  // 16 held (the idle timeout is a minute away): each newcomer took the place of the longest-idle
  // connection, none was queued.
  EXPECT_TRUE(eventually_closed(*flood, 300 - 16)) << flood->closed_by_peer();
  EXPECT_EQ(flood->closed_by_peer(), 300u - 16u);  // and exactly 16 let in
  // Full of idle connections, it still takes a webhook at once, in place of one of them.
  http_client client("127.0.0.1", port_, 5s);
  EXPECT_EQ(client.post("/", signed_headers("evt_full", body), body).status, 204);
  EXPECT_EQ(next_line()["id"], "evt_full");
  EXPECT_TRUE(eventually_closed(*flood, 300 - 15)) << flood->closed_by_peer();
  flood.reset();
  EXPECT_TRUE(eventually_accepted(port_, signed_headers("evt_after", body)));
  EXPECT_EQ(next_line()["id"], "evt_after");
}

TEST_F(ListenCommandTest, RefusesConnectionsPastItsCapWhileEveryOneIsMidRequest) {
  start({"--max-connections", "16", "--header-timeout", "2"});
  idle_flood busy("127.0.0.1", port_, 16, "POST / HTTP/1.1\r\n");
  ASSERT_EQ(busy.count(), 16u);
  std::this_thread::sleep_for(300ms);  // all 16 read: none may be closed to make room
  http_client refused("127.0.0.1", port_, 5s);
  EXPECT_THROW(refused.post("/", signed_headers("evt_full", body), body), std::exception);
  // --header-timeout ends the unfinished requests long before the minute of idle timeout.
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually_closed(busy, 16)) << busy.closed_by_peer();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  EXPECT_TRUE(eventually_accepted(port_, signed_headers("evt_after", body)));
  EXPECT_EQ(next_line()["id"], "evt_after");
}

TEST_F(ListenCommandTest, AcceptsWebhooksDuringAFloodOnceItsIdleConnectionsTimeOut) {
  start({"--max-connections", "16", "--idle-timeout", "2"});
  idle_flood flood("127.0.0.1", port_, 300);
  ASSERT_EQ(flood.count(), 300u);
  // Every connection of the flood is closed, those let in too, though the flood holds them.
  EXPECT_TRUE(eventually_closed(flood, 300)) << flood.closed_by_peer();
  for (int i = 0; i < 3; ++i) {
    std::string id = "evt_flood_" + std::to_string(i);
    EXPECT_TRUE(eventually_accepted(port_, signed_headers(id, body))) << id;
    EXPECT_EQ(next_line()["id"], id);
  }
}

TEST_F(ListenCommandTest, FinishesARequestInProgressWhenStopped) {
  start({"--delay-ms", "1500"});
  auto reply = std::async(std::launch::async, [this] {
    http_client client("127.0.0.1", port_);
    return client.post("/", signed_headers("evt_1", body), body);
  });
  // Wait until the request is in the handler's delay, then stop.
  std::this_thread::sleep_for(500ms);
  listen_->send_signal(SIGTERM);
  auto answered = reply.get();
  EXPECT_EQ(answered.status, 204);
  EXPECT_FALSE(answered.keep_alive);
  EXPECT_EQ(listen_->wait(30s), 0);
}

TEST_F(ListenCommandTest, ExitsTwoOnBadUsage) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"listen", "--port", "0"},
        {"listen", "--secret", std::string(spec_secret)},
        {"listen", "--port", "70000", "--secret", std::string(spec_secret)},
        {"listen", "--port", "0", "--secret", "nope!"},
        {"listen", "--port", "0", "--secret", std::string(spec_secret), "--status", "abc"},
        {"listen", "--port", "0", "--secret-file", "/nonexistent/tresse/secrets"},
        {"listen", "--port", "0", "--secret-file", "/dev/null"}}) {  // holds no secret
    auto r = webhook_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args.back();
  }
}

TEST_F(ListenCommandTest, NeverEchoesABadSecret) {
  const std::string bad = "whsec_not-base64-but-secret";
  auto path = std::filesystem::temp_directory_path() /
              ("tresse_listen_bad_secret_" + std::to_string(::getpid()));
  std::ofstream(path) << std::string(spec_secret) << "\n" << bad << "\n";
  auto from_file = webhook_cli({"listen", "--port", "0", "--secret-file", path.string()});
  std::filesystem::remove(path);
  EXPECT_EQ(from_file.exit_code, 2);
  EXPECT_NE(from_file.err.find("secret #2 is not a valid secret"), std::string::npos)
      << from_file.err;
  auto from_env = run_process({"/usr/bin/env", "TRESSE_WEBHOOK_SECRET=" + bad, TRESSE_WEBHOOK_BIN,
                               "listen", "--port", "0"});
  EXPECT_EQ(from_env.exit_code, 2);
  EXPECT_NE(from_env.err.find("TRESSE_WEBHOOK_SECRET"), std::string::npos) << from_env.err;
  for (const auto& r : {from_file, from_env}) {
    EXPECT_EQ(r.err.find("not-base64"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("not-base64"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace tresse::test
