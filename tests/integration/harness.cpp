#include "harness.hpp"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "config/config.hpp"
#include "support/http_client.hpp"

namespace tresse::test {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string events_topic() { return tresse::dispatcher::config{}.kafka.topic; }
std::string dead_letter_topic() { return tresse::dispatcher::config{}.kafka.dead_letter_topic; }
std::string ops_topic() { return tresse::dispatcher::config{}.kafka.ops_topic; }

bool eventually_true(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::pair<unsigned, std::string> http_get(std::uint16_t port, const std::string& target) {
  try {
    http_client client("127.0.0.1", port, 10s);
    auto reply = client.request("GET", target, {}, "");
    return {reply.status, reply.body};
  } catch (const std::exception&) {
    return {0, ""};
  }
}

// ---------------------------------------------------------------------------------------------
// recording_sink

std::string received_request::header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

recording_sink::recording_sink(behaviour b, std::size_t threads) : behaviour_(std::move(b)) {
  tresse::http::server_options options;
  options.threads = threads;
  // A hanging request must not hold up the test's end.
  options.drain_timeout = 100ms;
  auto handler = [this](tresse::http::request& req) -> asio::awaitable<tresse::http::response> {
    received_request rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    for (const auto& field : req) {
      rec.headers.emplace(lower(std::string(field.name_string())), std::string(field.value()));
    }
    rec.body = req.body();
    rec.at = std::chrono::steady_clock::now();
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex_);
      rec.attempt = ++attempts_[rec.header("webhook-id")];
      index = requests_.size();
      requests_.push_back(rec);
    }
    sink_reply reply = behaviour_ ? behaviour_(rec) : sink_reply{};
    if (reply.hang) reply.delay = std::max<std::chrono::milliseconds>(reply.delay, 60s);
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, reply.delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    tresse::http::response res{static_cast<bhttp::status>(reply.status), req.version()};
    for (const auto& [name, value] : reply.headers) res.set(name, value);
    {
      std::lock_guard lock(mutex_);
      requests_[index].answered = reply.status;
    }
    changed_.notify_all();
    co_return res;
  };
  auto srv = tresse::http::server::start(options, handler);
  if (!srv) throw std::runtime_error("sink: " + srv.error().message);
  server_.emplace(std::move(*srv));
  port_ = server_->port();
}

recording_sink::~recording_sink() {
  if (server_) server_->stop();
}

std::string recording_sink::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<received_request> recording_sink::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t recording_sink::count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::set<std::string> recording_sink::ids() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (const auto& r : requests_) out.insert(r.header("webhook-id"));
  return out;
}

std::set<std::string> recording_sink::delivered_ids() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (const auto& r : requests_) {
    if (r.answered >= 200 && r.answered < 300) out.insert(r.header("webhook-id"));
  }
  return out;
}

bool recording_sink::wait(const std::function<bool()>& pred,
                          std::chrono::milliseconds timeout) const {
  return eventually_true(pred, timeout);
}

bool recording_sink::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) const {
  return wait([&] { return count() >= n; }, timeout);
}

bool recording_sink::wait_for_ids(std::size_t n, std::chrono::milliseconds timeout) const {
  return wait([&] { return ids().size() >= n; }, timeout);
}

bool recording_sink::wait_for_delivered(std::size_t n, std::chrono::milliseconds timeout) const {
  return wait([&] { return delivered_ids().size() >= n; }, timeout);
}

tresse::receiver::verification verify(const received_request& r,
                                      const std::vector<std::string>& secrets) {
  std::error_code ec;
  auto v = tresse::receiver::verifier::from_secrets(secrets, {}, ec);
  if (ec) {
    tresse::receiver::verification bad;
    bad.error = ec;
    bad.message = "bad secret";
    return bad;
  }
  return v.verify(r.headers, r.body);
}

std::vector<std::string> signature_entries(const std::string& header) {
  std::vector<std::string> out;
  std::istringstream in(header);
  for (std::string entry; in >> entry;) out.push_back(entry);
  return out;
}

// ---------------------------------------------------------------------------------------------
// dispatcher_process

namespace {

// The dispatcher writes to a file through `sh -c 'exec ...'`: nothing has to drain a pipe, and
// after exec the pid is the dispatcher's own, so signals reach it directly.
child_process start_logged(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<std::string> args = {
      "/bin/sh", "-c", "log=\"$1\"; shift; exec \"$@\" >>\"$log\" 2>&1", "sh", log.string()};
  args.insert(args.end(), argv.begin(), argv.end());
  return child_process::start(args);
}

}  // namespace

dispatcher_process::dispatcher_process(const std::vector<std::string>& settings,
                                       std::filesystem::path log_file)
    : log_file_(std::move(log_file)), process_([&] {
        std::vector<std::string> argv = {TRESSE_DISPATCHER_BIN, "run"};
        for (const auto& s : settings) {
          argv.push_back("--set");
          argv.push_back(s);
        }
        return start_logged(argv, log_file_);
      }()) {}

dispatcher_process::~dispatcher_process() { kill(); }

std::string dispatcher_process::log_text() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> dispatcher_process::log_lines() const {
  std::vector<json> out;
  std::istringstream in(log_text());
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::optional<json> dispatcher_process::wait_for_log(std::string_view msg,
                                                     const std::function<bool(const json&)>& pred,
                                                     std::chrono::milliseconds timeout) const {
  std::optional<json> found;
  eventually_true(
      [&] {
        for (auto& j : log_lines()) {
          if (j.value("msg", "") == msg && (!pred || pred(j))) {
            found = std::move(j);
            return true;
          }
        }
        return false;
      },
      timeout);
  return found;
}

std::uint16_t dispatcher_process::logged_port(std::string_view msg, const char* field) const {
  auto line = wait_for_log(msg);
  if (!line) throw std::runtime_error("dispatcher never logged '" + std::string(msg) + "'");
  std::string address = line->value(field, "");
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no address in " + line->dump());
  return static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
}

std::uint16_t dispatcher_process::admin_port() const {
  return logged_port("dispatcher running", "admin");
}

std::uint16_t dispatcher_process::api_port() const {
  return logged_port("management API listening", "api");
}

void dispatcher_process::kill() {
  if (exited_) return;
  process_.send_signal(SIGKILL);
  process_.wait(30s);
  exited_ = true;
}

std::optional<int> dispatcher_process::terminate(std::chrono::milliseconds timeout) {
  if (exited_) return std::nullopt;
  process_.send_signal(SIGTERM);
  auto code = process_.wait(timeout);
  if (code) exited_ = true;
  exit_code_ = code;
  return code;
}

bool dispatcher_process::running() {
  if (exited_) return false;
  if (auto code = process_.wait(0ms)) {
    exited_ = true;
    exit_code_ = code;
  }
  return !exited_;
}

// ---------------------------------------------------------------------------------------------
// integration_test

namespace {

std::filesystem::path make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tresse-it-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace

integration_test::integration_test()
    : dir_(make_temp_dir()),
      redis_(redis_server_options{.persistence = true}),
      redis_url_(redis_.url()),
      kafka_(4) {}

integration_test::~integration_test() {
  dispatchers_.clear();
  publisher_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void integration_test::TearDown() {
  if (HasFailure()) {
    for (const auto& d : dispatchers_) {
      std::string text = d->log_text();
      if (text.size() > 6000) text = "...\n" + text.substr(text.size() - 6000);
      std::cerr << "---- " << d->log_file().filename().string() << " (tail) ----\n" << text << "\n";
    }
  }
  for (auto& d : dispatchers_) d->kill();
}

std::vector<std::string> integration_test::base_settings() const {
  return {
      "kafka.brokers=" + kafka_.bootstrap(),
      "redis.url=" + redis_url_,
      "admin.listen=127.0.0.1:0",
      "delivery.allow_private_networks=true",
      "delivery.retry_schedule=200ms,200ms,200ms",
      "delivery.retry_jitter=0",
      "delivery.retry_lease=2s",
      "registry.refresh_interval=100ms",
      // See kafka_cluster::fast_consumer_config: the mock coordinator's first join takes 3 s
      // and a dead member is noticed after session.timeout.ms.
      "kafka.librdkafka.session.timeout.ms=4000",
      "kafka.librdkafka.heartbeat.interval.ms=300",
      "kafka.librdkafka.fetch.wait.max.ms=50",
      "kafka.librdkafka.topic.metadata.refresh.interval.ms=1000",
  };
}

dispatcher_process& integration_test::start_dispatcher(const std::vector<std::string>& extra,
                                                       bool allow_private_networks) {
  auto settings = base_settings();
  if (!allow_private_networks) {
    std::erase(settings, std::string("delivery.allow_private_networks=true"));
  }
  settings.insert(settings.end(), extra.begin(), extra.end());
  auto log = dir_ / ("dispatcher-" + std::to_string(dispatchers_.size() + 1) + ".log");
  dispatchers_.push_back(std::make_unique<dispatcher_process>(settings, log));
  return *dispatchers_.back();
}

json integration_test::cli(std::vector<std::string> args) {
  args.insert(args.begin(), TRESSE_DISPATCHER_BIN);
  args.push_back("--redis");
  args.push_back(redis_url_);
  auto r = run_process(args, {}, 30s);
  EXPECT_EQ(r.exit_code, 0) << args[1] << " " << args[2] << ": " << r.err;
  auto j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  return j;
}

endpoint_info integration_test::create_endpoint(const std::string& business, const std::string& url,
                                                const std::string& events) {
  auto j = cli({"endpoints", "create", "--business", business, "--url", url, "--events", events});
  endpoint_info ep;
  ep.id = j.value("id", "");
  ep.secret = j.value("secret", "");
  ep.json = j;
  EXPECT_FALSE(ep.id.empty()) << j.dump();
  EXPECT_TRUE(ep.secret.starts_with("whsec_")) << "create printed no secret";
  return ep;
}

json integration_test::get_endpoint(const std::string& id) {
  return cli({"endpoints", "get", "--id", id});
}

json integration_test::attempts(const std::string& endpoint_id, int limit) {
  auto j = cli({"deliveries", "list", "--endpoint", endpoint_id, "--limit", std::to_string(limit)});
  return j.contains("data") ? j["data"] : json::array();
}

events::event integration_test::make_event(const std::string& type, const std::string& business,
                                           const std::string& data_json) {
  auto ev = events::make_event({.type = type, .business_id = business, .data_json = data_json});
  if (!ev) throw std::runtime_error("make_event: " + ev.error().message);
  return *ev;
}

void integration_test::publish(const std::vector<events::event>& evs) {
  if (!publisher_) {
    auto p =
        events::publisher::create({.brokers = kafka_.bootstrap(), .extra = {{"linger.ms", "2"}}});
    if (!p) throw std::runtime_error("publisher: " + p.error().message);
    publisher_ = std::move(*p);
  }
  for (const auto& ev : evs) {
    auto st = publisher_->publish(ev);
    ASSERT_TRUE(st) << st.error().message;
  }
  auto st = publisher_->flush(30s);
  ASSERT_TRUE(st) << st.error().message;
}

void integration_test::produce_raw(const std::string& key, const std::string& value) {
  kafka_.produce(events_topic(), key, value);
}

}  // namespace tresse::test
