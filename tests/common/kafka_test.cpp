#include "tresse/common/kafka.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/kafka_cluster.hpp"
#include "tresse/common/kafka_mock_cluster.hpp"

namespace tresse::kafka {
namespace {

TEST(KafkaTest, MockClusterListensOnLoopbackWithTheRequestedTopics) {
  auto cluster = mock_cluster::start({.partitions = 3, .topics = {"a", "b"}});
  ASSERT_TRUE(cluster) << cluster.error().message;
  EXPECT_TRUE((*cluster)->bootstrap().starts_with("127.0.0.1:")) << (*cluster)->bootstrap();

  auto conf = make_conf({{"bootstrap.servers", (*cluster)->bootstrap()}});
  ASSERT_TRUE(conf);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(rk);
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(rk->get(), 1, nullptr, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<std::string, int> partitions;
  for (int i = 0; i < md->topic_cnt; ++i)
    partitions[md->topics[i].topic] = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  EXPECT_EQ(partitions["a"], 3);
  EXPECT_EQ(partitions["b"], 3);
}

TEST(KafkaTest, ProduceAndWaitReturnsOnceAcknowledged) {
  test::kafka_cluster kafka;
  auto p = producer::create({.brokers = kafka.bootstrap()});
  ASSERT_TRUE(p);
  ASSERT_TRUE((*p)->produce_and_wait("tresse.webhooks.dead", "k", "v", 10s));
  EXPECT_EQ((*p)->counts().delivered, 1u);
  auto records = kafka.read("tresse.webhooks.dead", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "v");
}

TEST(KafkaTest, ProduceAndWaitFailsTransientlyWhenNoBrokerAnswers) {
  auto p = producer::create({.brokers = "127.0.0.1:1", .message_timeout = 300ms});
  ASSERT_TRUE(p);
  auto st = (*p)->produce_and_wait("t", "k", "v", 200ms);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, error_kind::transient);
}

TEST(KafkaTest, RejectsUnknownConfiguration) {
  auto conf = make_conf({{"no.such.property", "1"}});
  ASSERT_FALSE(conf);
  EXPECT_EQ(conf.error().kind, error_kind::permanent);
  EXPECT_NE(conf.error().message.find("no.such.property"), std::string::npos);
}

TEST(KafkaTest, TranslatesErrorKinds) {
  EXPECT_EQ(to_error(RD_KAFKA_RESP_ERR__FATAL, "x").kind, error_kind::fatal);
  EXPECT_EQ(to_error(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "x").kind, error_kind::permanent);
  EXPECT_EQ(to_error(RD_KAFKA_RESP_ERR__TRANSPORT, "x").kind, error_kind::transient);
  EXPECT_TRUE(to_error(RD_KAFKA_RESP_ERR__TRANSPORT, "commit").message.starts_with("commit: "));
}

}  // namespace
}  // namespace tresse::kafka
