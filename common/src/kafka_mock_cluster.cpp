#include "tresse/common/kafka_mock_cluster.hpp"

#include <librdkafka/rdkafka_mock.h>

namespace tresse::kafka {

result<std::unique_ptr<mock_cluster>> mock_cluster::start(mock_cluster_options options) {
  if (options.brokers < 1 || options.partitions < 1) {
    return fail(error_kind::permanent, "mock cluster needs at least one broker and partition");
  }
  // The owner handle never connects anywhere; it only hosts the mock brokers' threads.
  // log_level 4: without it the handle announces at notice level that it has no brokers.
  auto conf = make_conf({{"client.id", "tresse-mock-cluster"}, {"log_level", "4"}});
  if (!conf) return std::unexpected(conf.error());
  auto owner = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!owner) return std::unexpected(owner.error());

  std::unique_ptr<mock_cluster> mc(new mock_cluster());
  mc->owner_ = std::move(*owner);
  mc->cluster_ = rd_kafka_mock_cluster_new(mc->owner_.get(), options.brokers);
  if (mc->cluster_ == nullptr) return fail(error_kind::fatal, "could not start the mock cluster");
  mc->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc->cluster_);
  for (const auto& topic : options.topics) {
    if (auto st = mc->create_topic(topic, options.partitions); !st) {
      return std::unexpected(st.error());
    }
  }
  return mc;
}

mock_cluster::~mock_cluster() {
  // librdkafka requires the cluster gone before its owner handle.
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

status mock_cluster::create_topic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err) return std::unexpected(to_error(err, "create topic " + name));
  return {};
}

}  // namespace tresse::kafka
