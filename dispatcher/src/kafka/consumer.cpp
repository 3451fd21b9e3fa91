#include "kafka/consumer.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "tresse/common/log.hpp"
#include "tresse/common/thread_name.hpp"

namespace tresse::dispatcher::kafka {
namespace {

using tresse::kafka::partition_list_ptr;

std::vector<std::int32_t> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<std::int32_t> out;
  for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].partition);
  return out;
}

}  // namespace

consumer::consumer(consumer_options options, batch_handler on_batch)
    : options_(std::move(options)), on_batch_(std::move(on_batch)) {}

result<std::unique_ptr<consumer>> consumer::create(consumer_options options, handler on_message) {
  return create(std::move(options), [h = std::move(on_message)](std::vector<message> batch) {
    for (auto& m : batch) h(std::move(m));
  });
}

result<std::unique_ptr<consumer>> consumer::create(consumer_options options, batch_handler on_batch) {
  if (options.brokers.empty()) return fail(error_kind::permanent, "no Kafka brokers given");
  if (options.topic.empty() || options.group_id.empty()) {
    return fail(error_kind::permanent, "consumer needs a topic and a group id");
  }
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  if (options.resume_below == 0 || options.resume_below >= options.max_in_flight) {
    options.resume_below = options.max_in_flight / 2;
  }
  tresse::kafka::config_map values = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"client.id", "tresse-dispatcher"},
      // Offsets are committed by hand, and only for finished work.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", options.auto_offset_reset},
      // Bounds the memory of prefetched messages per partition.
      {"queued.max.messages.kbytes", "16384"},
      // Webhooks are latency-sensitive: an idle fetch returns after 20 ms instead of 500 ms
      // (the mock broker always waits this long; a real one answers when data arrives).
      {"fetch.wait.max.ms", "20"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "3000"},
  };
  values.insert(values.end(), options.extra.begin(), options.extra.end());
  auto conf = tresse::kafka::make_conf(values);
  if (!conf) return std::unexpected(conf.error());

  std::unique_ptr<consumer> c(new consumer(std::move(options), std::move(on_batch)));
  rd_kafka_conf_set_opaque(conf->get(), c.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &consumer::on_rebalance);
  auto rk = tresse::kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) return std::unexpected(rk.error());
  c->rk_ = std::move(*rk);
  rd_kafka_poll_set_consumer(c->rk_.get());  // one queue: messages, rebalances, errors

  partition_list_ptr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), c->options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk_.get(), topics.get())) {
    return std::unexpected(tresse::kafka::to_error(err, "subscribe to " + c->options_.topic));
  }
  c->thread_ = std::thread([raw = c.get()] {
    name_this_thread("kafka-consumer");
    raw->run();
  });
  return c;
}

consumer::~consumer() { stop(0ms); }

void consumer::done(std::int32_t partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  tracker_.done(partition, offset);
  if (stop_requested_.load() && tracker_.in_flight() == 0) drained_.notify_all();
}

std::size_t consumer::in_flight() const {
  std::lock_guard lock(mutex_);
  return tracker_.in_flight();
}

std::vector<std::int32_t> consumer::assignment() const {
  std::lock_guard lock(mutex_);
  return assignment_;
}

status consumer::stop(std::chrono::milliseconds drain) {
  if (!thread_.joinable()) {
    std::lock_guard lock(mutex_);
    return stop_status_;
  }
  drain_ = drain;
  stop_requested_ = true;
  thread_.join();
  std::lock_guard lock(mutex_);
  return stop_status_;
}

void consumer::run() {
  auto last_commit = std::chrono::steady_clock::now();
  while (!stop_requested_.load()) {
    if (rd_kafka_message_t* m =
            rd_kafka_consumer_poll(rk_.get(), static_cast<int>(options_.poll_timeout.count()))) {
      // Whatever else is already fetched goes out with it, in one hand-off.
      // Never past the in-flight bound: the pause below is checked once per batch.
      const std::size_t n = in_flight();
      const std::size_t room = n < options_.max_in_flight ? options_.max_in_flight - n : 1;
      const std::size_t limit = std::max<std::size_t>(1, std::min(options_.max_batch, room));
      std::vector<message> batch;
      if (auto first = take(m)) batch.push_back(std::move(*first));
      while (batch.size() < limit) {
        rd_kafka_message_t* more = rd_kafka_consumer_poll(rk_.get(), 0);
        if (more == nullptr) break;
        if (auto next = take(more)) batch.push_back(std::move(*next));
      }
      if (!batch.empty()) hand_out(std::move(batch));
    }
    apply_backpressure();
    if (auto now = std::chrono::steady_clock::now();
        now - last_commit >= options_.commit_interval) {
      last_commit = now;
      commit();  // a failure is logged and retried at the next interval
    }
  }

  // Draining: fetch nothing more, keep serving group events, wait for in-flight work.
  set_paused(true);
  auto deadline = std::chrono::steady_clock::now() + drain_;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::unique_lock lock(mutex_);
      if (drained_.wait_for(lock, 20ms, [&] { return tracker_.in_flight() == 0; })) break;
    }
    // Anything still arriving is not handed out, so it is never committed past.
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 0)) rd_kafka_message_destroy(m);
    if (auto now = std::chrono::steady_clock::now();
        now - last_commit >= options_.commit_interval) {
      last_commit = now;
      commit();
    }
  }
  status final_commit = commit();
  std::size_t left = in_flight();
  // Close leaves the group; the revoke it triggers commits again (a no-op by now).
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get())) {
    log::warn("kafka consumer close failed", {{"error", rd_kafka_err2str(err)}});
  }
  std::lock_guard lock(mutex_);
  if (left > 0) {
    stop_status_ = fail(
        error_kind::transient,
        std::to_string(left) + " message(s) still in flight at shutdown; they will be redelivered");
  } else {
    stop_status_ = final_commit;
  }
}

std::optional<message> consumer::take(rd_kafka_message_t* raw) {
  tresse::kafka::message_ptr m(raw);
  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
    // librdkafka recovers from these by itself (broker down, coordinator moved, ...).
    auto level = m->err == RD_KAFKA_RESP_ERR__FATAL ? log::level::error : log::level::warn;
    log::write(level, "kafka consumer error",
               {{"error", rd_kafka_message_errstr(m.get())}, {"code", rd_kafka_err2name(m->err)}});
    return std::nullopt;
  }
  message msg;
  msg.topic = rd_kafka_topic_name(m->rkt);
  msg.partition = m->partition;
  msg.offset = m->offset;
  if (m->key != nullptr) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) msg.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_timestamp_type_t ts_type;
  msg.timestamp_ms = rd_kafka_message_timestamp(m.get(), &ts_type);
  return msg;
}

void consumer::hand_out(std::vector<message> batch) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& msg : batch) tracker_.add(msg.partition, msg.offset);
  }
  received_.fetch_add(batch.size());
  on_batch_(std::move(batch));
}

void consumer::apply_backpressure() {
  std::size_t n = in_flight();
  if (!paused_ && n >= options_.max_in_flight) {
    log::info("kafka consumer paused: too much in flight", {{"in_flight", n}});
    set_paused(true);
  } else if (paused_ && n <= options_.resume_below) {
    log::info("kafka consumer resumed", {{"in_flight", n}});
    set_paused(false);
  }
}

void consumer::set_paused(bool pause) {
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_.get(), &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list != nullptr) {
    partition_list_ptr owned(list);
    if (owned->cnt > 0) {
      if (pause) {
        rd_kafka_pause_partitions(rk_.get(), owned.get());
      } else {
        rd_kafka_resume_partitions(rk_.get(), owned.get());
      }
    }
  }
  paused_ = pause;
}

status consumer::commit(const std::vector<std::int32_t>* only) {
  std::vector<std::pair<std::int32_t, std::int64_t>> pending;
  {
    std::lock_guard lock(mutex_);
    pending = tracker_.pending_commits();
  }
  if (only != nullptr) {
    std::erase_if(pending, [&](const auto& p) {
      return std::find(only->begin(), only->end(), p.first) == only->end();
    });
  }
  if (pending.empty()) return {};
  partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(pending.size())));
  for (auto [partition, position] : pending) {
    rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), partition)->offset =
        position;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), /*async=*/0);
  if (err) {
    auto e = tresse::kafka::to_error(err, "commit offsets");
    // Expected while the group rebalances; the next interval (or the new owner) commits.
    bool rebalancing = err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                       err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION;
    log::write(rebalancing ? log::level::debug : log::level::warn, "kafka commit failed",
               {{"error", e.message}});
    return std::unexpected(e);
  }
  std::lock_guard lock(mutex_);
  for (int i = 0; i < list->cnt; ++i) {
    const auto& el = list->elems[i];
    if (el.err == RD_KAFKA_RESP_ERR_NO_ERROR) tracker_.mark_committed(el.partition, el.offset);
  }
  return {};
}

bool cooperative_rebalance(const char* protocol, bool last_known) {
  return protocol == nullptr ? last_known : std::strcmp(protocol, "COOPERATIVE") == 0;
}

void consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<consumer*>(opaque);
  self->cooperative_ = cooperative_rebalance(rd_kafka_rebalance_protocol(rk), self->cooperative_);
  const bool cooperative = self->cooperative_;
  std::vector<std::int32_t> changed = partitions_of(partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    log::info("kafka partitions assigned",
              {{"topic", self->options_.topic}, {"partitions", changed}});
    {
      std::lock_guard lock(self->mutex_);
      for (auto p : changed) {
        self->tracker_.drop(p);  // start clean: positions come from the committed offsets
        if (std::find(self->assignment_.begin(), self->assignment_.end(), p) ==
            self->assignment_.end()) {
          self->assignment_.push_back(p);
        }
      }
    }
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions);
      if (e != nullptr) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    // Under backpressure (or draining) new partitions start paused too.
    if (self->paused_) rd_kafka_pause_partitions(rk, partitions);
    return;
  }

  // Revoked (or lost, or an error): commit what is finished, then let the partitions go.
  bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
  log::info("kafka partitions revoked",
            {{"topic", self->options_.topic}, {"partitions", changed}, {"lost", lost}});
  if (!lost) self->commit(&changed);
  {
    std::lock_guard lock(self->mutex_);
    for (auto p : changed) {
      self->tracker_.drop(p);
      std::erase(self->assignment_, p);
    }
    self->drained_.notify_all();
  }
  if (cooperative) {
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions);
    if (e != nullptr) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

std::vector<partition_lag> consumer::lag() const {
  std::vector<std::int32_t> parts;
  std::vector<std::int64_t> committed;
  {
    std::lock_guard lock(mutex_);
    parts = assignment_;
    for (auto p : parts) committed.push_back(tracker_.committed(p));
  }
  std::vector<partition_lag> out;
  if (parts.empty()) return out;
  partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (auto p : parts) rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p);
  rd_kafka_position(rk_.get(), list.get());
  for (int i = 0; i < list->cnt; ++i) {
    partition_lag l;
    l.partition = list->elems[i].partition;
    l.committed = committed[static_cast<std::size_t>(i)];
    if (list->elems[i].offset >= 0) l.position = list->elems[i].offset;
    std::int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), options_.topic.c_str(), l.partition, &low,
                                       &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      l.high_watermark = high;
    }
    if (l.high_watermark >= 0 && l.position >= 0)
      l.lag = std::max<std::int64_t>(0, high - l.position);
    out.push_back(l);
  }
  return out;
}

}  // namespace tresse::dispatcher::kafka
