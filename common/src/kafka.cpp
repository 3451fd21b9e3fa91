#include "tresse/common/kafka.hpp"

#include <condition_variable>
#include <string>

#include "tresse/common/log.hpp"
#include "tresse/common/thread_name.hpp"

namespace tresse::kafka {
namespace {

// librdkafka's own log lines go to our JSON log; syslog levels 0-7.
void log_cb(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  log::level l = level <= 3   ? log::level::error
                 : level == 4 ? log::level::warn
                 : level <= 6 ? log::level::info
                              : log::level::debug;
  if (!log::enabled(l)) return;
  log::write(
      l, "librdkafka",
      {{"client", rk != nullptr ? rd_kafka_name(rk) : ""}, {"facility", facility}, {"text", text}});
}

// One message's outcome for produce_and_wait. Shared: the waiter may time out and leave
// before the delivery report arrives.
struct delivery_waiter {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

}  // namespace

error to_error(rd_kafka_resp_err_t err, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return {error_kind::fatal, std::move(message)};
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:  // librdkafka already retried for message.timeout.ms
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return {error_kind::permanent, std::move(message)};
    default:
      return {error_kind::transient, std::move(message)};
  }
}

result<conf_ptr> make_conf(const config_map& values) {
  conf_ptr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  // Every handle's small requests (a lone event, fetches, commits; the mock brokers' sockets
  // take it from the handle hosting them) must not wait for a delayed ACK under Nagle: 40 ms
  // stalls in publish-to-receive latency otherwise. `values` may set it back.
  config_map all = {{"socket.nagle.disable", "true"}};
  all.insert(all.end(), values.begin(), values.end());
  char errstr[512];
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return fail(error_kind::permanent, "kafka config " + key + ": " + errstr);
    }
  }
  return conf;
}

result<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr) return fail(error_kind::permanent, std::string("kafka client: ") + errstr);
  conf.release();  // owned by rk now
  return handle_ptr(rk);
}

result<std::unique_ptr<producer>> producer::create(producer_options options) {
  if (options.brokers.empty()) return fail(error_kind::permanent, "no Kafka brokers given");
  config_map values = {
      {"bootstrap.servers", options.brokers},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"linger.ms", std::to_string(options.linger.count())},
      {"message.timeout.ms", std::to_string(options.message_timeout.count())},
  };
  values.insert(values.end(), options.extra.begin(), options.extra.end());
  auto conf = make_conf(values);
  if (!conf) return std::unexpected(conf.error());

  std::unique_ptr<producer> p(new producer());
  rd_kafka_conf_set_opaque(conf->get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &producer::on_delivery);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk) return std::unexpected(rk.error());
  p->rk_ = std::move(*rk);
  p->poller_ = std::thread([raw = p.get()] {
    name_this_thread("kafka-producer");
    raw->poll_loop();
  });
  return p;
}

producer::~producer() {
  if (!rk_) return;
  if (rd_kafka_flush(rk_.get(), 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::warn("producer closing with undelivered messages",
              {{"count", rd_kafka_outq_len(rk_.get())}});
    // Purged messages get a delivery report, which releases any produce_and_wait waiter.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 1000);
  }
  stopping_ = true;
  if (poller_.joinable()) poller_.join();
}

void producer::poll_loop() {
  while (!stopping_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_.get(), 100);
}

void producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<producer*>(opaque);
  if (msg->err) {
    self->failed_.fetch_add(1);
    self->failed_since_flush_ = true;
    std::lock_guard lock(self->mutex_);
    self->last_error_ = to_error(msg->err, "delivery failed");
  } else {
    self->delivered_.fetch_add(1);
  }
  if (auto* holder = static_cast<std::shared_ptr<delivery_waiter>*>(msg->_private)) {
    {
      std::lock_guard lock((*holder)->mutex);
      (*holder)->done = true;
      (*holder)->err = msg->err;
    }
    (*holder)->cv.notify_all();
    delete holder;
  }
}

namespace {

rd_kafka_resp_err_t produce_one(rd_kafka_t* rk, std::string_view topic, std::string_view key,
                                std::string_view value, void* opaque) {
  std::string topic_name(topic);
  return rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic_name.c_str()),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      // BLOCK: wait for room when the local queue is full (the poll thread frees it).
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK), RD_KAFKA_V_OPAQUE(opaque),
      RD_KAFKA_V_END);
}

}  // namespace

status producer::produce(std::string_view topic, std::string_view key, std::string_view value) {
  rd_kafka_resp_err_t err = produce_one(rk_.get(), topic, key, value, nullptr);
  if (err) return std::unexpected(to_error(err, "produce"));
  enqueued_.fetch_add(1);
  return {};
}

status producer::produce_and_wait(std::string_view topic, std::string_view key,
                                  std::string_view value, std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<delivery_waiter>();
  auto* holder = new std::shared_ptr<delivery_waiter>(waiter);
  rd_kafka_resp_err_t err = produce_one(rk_.get(), topic, key, value, holder);
  if (err) {
    delete holder;  // no delivery report for a message that was never enqueued
    return std::unexpected(to_error(err, "produce"));
  }
  enqueued_.fetch_add(1);
  std::unique_lock lock(waiter->mutex);
  if (!waiter->cv.wait_for(lock, timeout, [&] { return waiter->done; })) {
    return fail(error_kind::transient,
                "produce: not acknowledged within " + std::to_string(timeout.count()) + " ms");
  }
  if (waiter->err) return std::unexpected(to_error(waiter->err, "delivery failed"));
  return {};
}

status producer::flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count()));
  if (err) {
    return fail(error_kind::transient, std::to_string(rd_kafka_outq_len(rk_.get())) +
                                           " message(s) still unacknowledged after " +
                                           std::to_string(timeout.count()) + " ms");
  }
  if (failed_since_flush_.exchange(false)) {
    std::lock_guard lock(mutex_);
    return std::unexpected(last_error_);
  }
  return {};
}

producer::stats producer::counts() const {
  return {enqueued_.load(), delivered_.load(), failed_.load()};
}

std::string producer::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_.message;
}

}  // namespace tresse::kafka
