// librdkafka's own Kafka-protocol mock cluster, run in-process: real brokers on 127.0.0.1
// ports that any client reaches over TCP (producers, consumer groups with committed offsets,
// the idempotent producer). For tests and the local try-out; state lives in memory and goes
// away with the object.
//
//   auto cluster = tresse::kafka::mock_cluster::start({.partitions = 4});
//   if (!cluster) return cluster.error();
//   consumer_options.brokers = (*cluster)->bootstrap();   // "127.0.0.1:40123"
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tresse/common/kafka.hpp"

struct rd_kafka_mock_cluster_s;

namespace tresse::kafka {

struct mock_cluster_options {
  int brokers = 1;
  int partitions = 4;
  std::vector<std::string> topics = {std::string(default_events_topic),
                                     std::string(default_dead_letter_topic),
                                     std::string(default_ops_topic)};
};

class mock_cluster {
 public:
  // Starts the brokers and creates `topics` with `partitions` partitions each.
  static result<std::unique_ptr<mock_cluster>> start(mock_cluster_options options = {});
  ~mock_cluster();
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;

  // bootstrap.servers for clients, e.g. "127.0.0.1:40123".
  const std::string& bootstrap() const { return bootstrap_; }
  status create_topic(const std::string& name, int partitions);

 private:
  mock_cluster() = default;

  handle_ptr owner_;  // the mock cluster needs a client handle for its bookkeeping
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace tresse::kafka
