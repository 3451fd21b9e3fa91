#include "support/kafka_cluster.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

namespace tresse::test {

using namespace std::chrono_literals;

kafka_cluster::kafka_cluster(int partitions) : partitions_(partitions) {
  tresse::kafka::mock_cluster_options options;
  options.partitions = partitions;
  auto cluster = tresse::kafka::mock_cluster::start(options);
  if (!cluster) throw std::runtime_error("mock cluster: " + cluster.error().message);
  cluster_ = std::move(*cluster);
  tresse::kafka::producer_options po;
  po.brokers = cluster_->bootstrap();
  po.linger = 1ms;
  auto p = tresse::kafka::producer::create(po);
  if (!p) throw std::runtime_error("producer: " + p.error().message);
  producer_ = std::move(*p);
}

kafka_cluster::~kafka_cluster() {
  producer_.reset();  // clients go before the brokers they talk to
}

tresse::kafka::config_map kafka_cluster::fast_consumer_config() {
  // librdkafka 2.0.2's mock group coordinator answers the first JoinGroup of an empty group
  // only after a hard-coded 3 s, and meanwhile expires members whose session.timeout.ms
  // passes without a heartbeat: below ~3.5 s the first join never completes. After a member
  // leaves, it waits session.timeout.ms - 1000 for the others to rejoin. Hence 4 s.
  return {{"session.timeout.ms", "4000"},
          {"heartbeat.interval.ms", "300"},
          {"fetch.wait.max.ms", "50"},
          {"topic.metadata.refresh.interval.ms", "1000"}};
}

void kafka_cluster::produce(const std::string& topic, const std::string& key,
                            const std::string& value) {
  auto st = producer_->produce_and_wait(topic, key, value, 10s);
  if (!st) throw std::runtime_error("produce: " + st.error().message);
}

std::vector<kafka_record> kafka_cluster::read(const std::string& topic, std::size_t count,
                                              std::chrono::milliseconds timeout) {
  static std::atomic<int> reader_seq{0};
  auto conf =
      tresse::kafka::make_conf({{"bootstrap.servers", bootstrap()},
                                {"group.id", "tresse-test-reader-" + std::to_string(reader_seq++)},
                                {"enable.auto.commit", "false"},
                                {"fetch.wait.max.ms", "50"}});
  if (!conf) throw std::runtime_error(conf.error().message);
  auto rk = tresse::kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) throw std::runtime_error(rk.error().message);
  rd_kafka_poll_set_consumer(rk->get());
  tresse::kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(partitions_));
  for (int p = 0; p < partitions_; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk->get(), list.get());  // manual assignment: no group join

  std::vector<kafka_record> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    tresse::kafka::message_ptr m(rd_kafka_consumer_poll(rk->get(), 50));
    if (!m || m->err) continue;
    kafka_record r;
    r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
    out.push_back(std::move(r));
  }
  rd_kafka_consumer_close(rk->get());
  std::stable_sort(out.begin(), out.end(), [](const kafka_record& a, const kafka_record& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return out;
}

std::int64_t kafka_cluster::committed(const std::string& group, const std::string& topic,
                                      std::int32_t partition) {
  // A consumer with the group's id that never subscribes: it only asks the coordinator.
  auto conf = tresse::kafka::make_conf({{"bootstrap.servers", bootstrap()}, {"group.id", group}});
  if (!conf) return -1;
  auto rk = tresse::kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) return -1;
  tresse::kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
  rd_kafka_resp_err_t err = rd_kafka_committed(rk->get(), list.get(), 10000);
  std::int64_t offset = err ? -1 : list->elems[0].offset;
  rd_kafka_consumer_close(rk->get());
  return offset < 0 ? -1 : offset;
}

bool kafka_wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

}  // namespace tresse::test
