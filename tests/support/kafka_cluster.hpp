// A librdkafka mock cluster for one test, reached over TCP like any Kafka, plus the helpers
// tests need around it: produce, read a topic back from the start (no consumer group, so no
// group join delay), and query a group's committed offset.
//
//   tresse::test::kafka_cluster kafka;             // topics of tresse::kafka::mock_cluster
//   kafka.produce("tresse.events", "biz_1", R"({...})");
//   auto records = kafka.read("tresse.events", 1);  // waits up to 10 s for 1 record
//   EXPECT_EQ(kafka.committed("tresse-dispatcher", "tresse.events", 0), 1);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tresse/common/kafka.hpp"
#include "tresse/common/kafka_mock_cluster.hpp"

namespace tresse::test {

struct kafka_record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
};

class kafka_cluster {
 public:
  // Throws std::runtime_error if the cluster cannot start (a broken test environment).
  explicit kafka_cluster(int partitions = 4);
  ~kafka_cluster();

  const std::string& bootstrap() const { return cluster_->bootstrap(); }
  int partitions() const { return partitions_; }

  // Consumer settings that make group joins and rebalances fast against the mock cluster.
  static tresse::kafka::config_map fast_consumer_config();

  // Produces one record and waits for the acknowledgement; throws on failure.
  void produce(const std::string& topic, const std::string& key, const std::string& value);

  // Reads `topic` from the beginning of every partition until `count` records arrived or
  // `timeout` passed; returns what arrived (ordered by partition, then offset).
  std::vector<kafka_record> read(const std::string& topic, std::size_t count,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The committed offset of `group` on topic/partition; -1 if none (or on error).
  std::int64_t committed(const std::string& group, const std::string& topic,
                         std::int32_t partition);

 private:
  int partitions_;
  std::unique_ptr<tresse::kafka::mock_cluster> cluster_;
  std::unique_ptr<tresse::kafka::producer> producer_;
};

// Polls `done` every 10 ms until it is true or `timeout` passed; returns its last value. The
// default is generous: group joins on the mock cluster take seconds, more on a loaded machine.
bool kafka_wait_until(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace tresse::test
