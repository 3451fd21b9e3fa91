// `tresse-dispatcher dev-broker`: librdkafka's mock Kafka cluster as a process of its own,
// for the local try-out. Consumer groups and their committed offsets live as long as this
// process, so dispatchers can be stopped and restarted against it and resume where they
// committed.
//
//   tresse-dispatcher dev-broker --bootstrap-file /tmp/tresse/kafka [--partitions 4]
//                                [--topic tresse.events --topic ...]     (cli/command_line.cpp)
//
// Writes the bootstrap address ("127.0.0.1:PORT") to the file once the brokers listen
// (atomically: readers never see a partial address), runs until SIGTERM or SIGINT, then
// removes the file.
#pragma once

#include <string>

#include "tresse/common/kafka_mock_cluster.hpp"

namespace tresse::dispatcher::kafka {

struct dev_broker_options {
  std::string bootstrap_file;  // required
  tresse::kafka::mock_cluster_options cluster;
};

// Runs the cluster until SIGTERM or SIGINT. Returns the process exit status: 0 after a clean
// shutdown, 1 if the cluster could not start or the file could not be written.
int run_dev_broker(const dev_broker_options& options);

}  // namespace tresse::dispatcher::kafka
