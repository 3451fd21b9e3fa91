// A test fixture with one real redis-server per suite, emptied before each test.
//
//   class KeyStoreTest : public tresse::dispatcher::test_support::redis_test {};
//   TEST_F(KeyStoreTest, Works) { key_store keys(redis_); ... }
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "redis/client.hpp"
#include "support/redis_server.hpp"

namespace tresse::dispatcher::test_support {

class redis_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::redis_server(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    redis_ = std::make_shared<redis::client>(*redis::parse_url(server_->url()));
    ASSERT_TRUE(redis_->command({"FLUSHALL"}).has_value());
  }

  // Each test suite (each derived fixture) gets its own server: gtest calls SetUpTestSuite per
  // suite, and suites run one after another.
  static inline test::redis_server* server_ = nullptr;
  std::shared_ptr<redis::client> redis_;
};

}  // namespace tresse::dispatcher::test_support
