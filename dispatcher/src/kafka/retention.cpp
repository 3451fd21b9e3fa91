#include "kafka/retention.hpp"

#include <algorithm>
#include <set>

namespace tresse::dispatcher::kafka {

result<retained> earliest_retained(const window_scan& scan) {
  window_scan probe = scan;
  // Should the log start move between the watermarks and the fetch, read from the new one.
  probe.extra.insert(probe.extra.begin(), {"auto.offset.reset", "earliest"});
  auto rk = make_scan_consumer(probe);
  if (!rk) return std::unexpected(rk.error());
  rd_kafka_t* h = rk->get();
  auto ranges = partition_ranges(h, probe);
  if (!ranges) return std::unexpected(ranges.error());

  retained out;
  std::set<std::int32_t> waiting;
  tresse::kafka::partition_list_ptr assignment(rd_kafka_topic_partition_list_new(1));
  for (const auto& r : *ranges) {
    if (r.low <= 0) continue;  // nothing deleted
    if (r.low >= r.high) {
      out.emptied.push_back(r.partition);
      continue;
    }
    waiting.insert(r.partition);
    rd_kafka_topic_partition_list_add(assignment.get(), probe.topic.c_str(), r.partition)->offset =
        r.low;
  }
  if (waiting.empty()) return out;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(h, assignment.get())) {
    return std::unexpected(tresse::kafka::to_error(err, "assign"));
  }
  const auto deadline = std::chrono::steady_clock::now() + probe.timeout;
  status st;
  while (!waiting.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      st = fail(error_kind::transient, "retention: no message from Kafka within the timeout");
      break;
    }
    tresse::kafka::message_ptr m(rd_kafka_consumer_poll(h, 100));
    if (!m) continue;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      st = std::unexpected(tresse::kafka::to_error(m->err, "retention fetch"));
      break;
    }
    if (waiting.erase(m->partition) == 0) continue;
    rd_kafka_timestamp_type_t type;
    std::int64_t ts = rd_kafka_message_timestamp(m.get(), &type);
    if (ts < 0) continue;  // a message without a timestamp bounds nothing
    out.earliest_ms = std::max(out.earliest_ms.value_or(ts), ts);
  }
  rd_kafka_assign(h, nullptr);
  rd_kafka_consumer_close(h);
  if (!st) return std::unexpected(st.error());
  return out;
}

retention_cache::retention_cache(window_scan scan, std::chrono::milliseconds max_age)
    : scan_(std::move(scan)), max_age_(max_age) {}

result<retained> retention_cache::get() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const auto kept = last_ ? max_age_
                          : std::min<std::chrono::milliseconds>(max_age_ / 10,
                                                                std::chrono::seconds(10));
  if (looked_up_ && now - last_at_ < kept) return last_;
  last_ = earliest_retained(scan_);
  last_at_ = now;
  looked_up_ = true;
  return last_;
}

}  // namespace tresse::dispatcher::kafka
