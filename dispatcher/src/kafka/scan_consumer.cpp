#include "kafka/scan_consumer.hpp"

namespace tresse::dispatcher::kafka {

result<tresse::kafka::handle_ptr> make_scan_consumer(const window_scan& scan) {
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
  return tresse::kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
}

result<std::vector<partition_range>> partition_ranges(rd_kafka_t* rk, const window_scan& scan) {
  const int timeout_ms = static_cast<int>(scan.timeout.count());
  std::vector<partition_range> out;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, scan.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err) return std::unexpected(tresse::kafka::to_error(err, "metadata for " + scan.topic));
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (md->topics[i].err) {
      auto e = tresse::kafka::to_error(md->topics[i].err, "topic " + scan.topic);
      rd_kafka_metadata_destroy(md);
      return std::unexpected(e);
    }
    for (int j = 0; j < md->topics[i].partition_cnt; ++j) {
      out.push_back({.partition = md->topics[i].partitions[j].id});
    }
  }
  rd_kafka_metadata_destroy(md);
  for (auto& p : out) {
    if (rd_kafka_resp_err_t werr = rd_kafka_query_watermark_offsets(
            rk, scan.topic.c_str(), p.partition, &p.low, &p.high, timeout_ms)) {
      return std::unexpected(tresse::kafka::to_error(werr, "watermarks"));
    }
  }
  return out;
}

}  // namespace tresse::dispatcher::kafka
