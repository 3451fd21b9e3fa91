// `tresse-dispatcher dev-broker`: librdkafka's mock Kafka cluster as a process of its own,
// for the local try-out. Consumer groups and their committed offsets live as long as this
// process, so dispatchers can be stopped and restarted against it and resume where they
// committed.
//
//   tresse-dispatcher dev-broker --bootstrap-file /tmp/tresse/kafka [--partitions 4]
//                                [--topic tresse.events --topic ...]
//
// Writes the bootstrap address ("127.0.0.1:PORT") to the file once the brokers listen
// (atomically: readers never see a partial address), runs until SIGTERM or SIGINT, then
// removes the file.
#pragma once

namespace tresse::dispatcher::kafka {

// argv[0] is "dev-broker" (the sub-command). Returns the process exit status: 0 after a clean
// shutdown, 2 for usage errors, 1 if the cluster could not start.
int run_dev_broker(int argc, char** argv);

}  // namespace tresse::dispatcher::kafka
