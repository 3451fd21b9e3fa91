#include "kafka/window_reader.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace tresse::dispatcher::kafka {
namespace {

using tresse::kafka::partition_list_ptr;

struct bounds {
  std::int64_t start = 0;
  std::int64_t end = 0;  // exclusive
};

// Per partition: the first offset at or after `ms`, or -1 when none (or unsupported).
result<std::map<std::int32_t, std::int64_t>> offsets_at(rd_kafka_t* rk, const std::string& topic,
                                                        const std::vector<std::int32_t>& parts,
                                                        std::int64_t ms, int timeout_ms) {
  partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (auto p : parts) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = ms;
  std::map<std::int32_t, std::int64_t> out;
  if (rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list.get(), timeout_ms)) {
    return std::unexpected(tresse::kafka::to_error(err, "offsets for times"));
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    out[tp.partition] = tp.err ? -1 : tp.offset;
  }
  return out;
}

}  // namespace

status read_window(const window_scan& scan, std::int64_t since_ms, std::int64_t until_ms,
                   const std::function<bool(const message&)>& on_message) {
  tresse::kafka::config_map values = {
      {"bootstrap.servers", scan.brokers},
      // Needed by librdkafka for a consumer handle; never joined (assign, not subscribe) and
      // never committed.
      {"group.id", "tresse-replay"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"fetch.wait.max.ms", "20"},
  };
  values.insert(values.end(), scan.extra.begin(), scan.extra.end());
  auto conf = tresse::kafka::make_conf(values);
  if (!conf) return std::unexpected(conf.error());
  auto rk = tresse::kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) return std::unexpected(rk.error());
  rd_kafka_t* h = rk->get();
  int timeout_ms = static_cast<int>(scan.timeout.count());

  // Which partitions the topic has.
  std::vector<std::int32_t> parts;
  {
    rd_kafka_topic_t* t = rd_kafka_topic_new(h, scan.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(h, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (err) return std::unexpected(tresse::kafka::to_error(err, "metadata for " + scan.topic));
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err) {
        auto e = tresse::kafka::to_error(md->topics[i].err, "topic " + scan.topic);
        rd_kafka_metadata_destroy(md);
        return std::unexpected(e);
      }
      for (int j = 0; j < md->topics[i].partition_cnt; ++j) {
        parts.push_back(md->topics[i].partitions[j].id);
      }
    }
    rd_kafka_metadata_destroy(md);
  }

  auto starts = offsets_at(h, scan.topic, parts, since_ms, timeout_ms);
  auto ends = offsets_at(h, scan.topic, parts, until_ms, timeout_ms);
  std::map<std::int32_t, bounds> todo;
  for (auto p : parts) {
    std::int64_t low = 0, high = 0;
    if (rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(h, scan.topic.c_str(), p, &low, &high, timeout_ms)) {
      return std::unexpected(tresse::kafka::to_error(err, "watermarks"));
    }
    // -1 means "no message at or after that time" from a real broker, and "cannot look up by
    // time" from librdkafka's mock cluster; scanning from the log start is right for both (the
    // timestamps are checked anyway), only slower.
    bounds b{low, high};
    if (starts && starts->contains(p) && (*starts)[p] >= 0) b.start = std::max((*starts)[p], low);
    if (ends && ends->contains(p) && (*ends)[p] >= 0) b.end = std::min((*ends)[p], high);
    if (b.start < b.end) todo[p] = b;
  }
  if (todo.empty()) return {};

  partition_list_ptr assignment(rd_kafka_topic_partition_list_new(static_cast<int>(todo.size())));
  for (const auto& [p, b] : todo) {
    rd_kafka_topic_partition_list_add(assignment.get(), scan.topic.c_str(), p)->offset = b.start;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(h, assignment.get())) {
    return std::unexpected(tresse::kafka::to_error(err, "assign"));
  }
  auto finish = [&](status st) {
    rd_kafka_assign(h, nullptr);
    rd_kafka_consumer_close(h);
    return st;
  };
  auto idle_since = std::chrono::steady_clock::now();
  while (!todo.empty()) {
    tresse::kafka::message_ptr m(rd_kafka_consumer_poll(h, 100));
    if (!m) {
      if (std::chrono::steady_clock::now() - idle_since > scan.timeout) {
        return finish(fail(error_kind::transient, "replay: no data from Kafka within the timeout"));
      }
      continue;
    }
    idle_since = std::chrono::steady_clock::now();
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      return finish(std::unexpected(tresse::kafka::to_error(m->err, "replay fetch")));
    }
    auto it = todo.find(m->partition);
    if (it == todo.end() || m->offset < it->second.start) continue;
    if (m->offset >= it->second.end) {
      todo.erase(it);
      continue;
    }
    rd_kafka_timestamp_type_t type;
    std::int64_t ts = rd_kafka_message_timestamp(m.get(), &type);
    if (ts >= since_ms && ts < until_ms) {
      message out;
      out.topic = scan.topic;
      out.partition = m->partition;
      out.offset = m->offset;
      if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
      out.timestamp_ms = ts;
      if (!on_message(out)) return finish({});
    }
    if (m->offset + 1 >= it->second.end) todo.erase(it);
  }
  return finish({});
}

}  // namespace tresse::dispatcher::kafka
