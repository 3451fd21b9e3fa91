#include "tresse/common/event_catalog.hpp"

#include <gtest/gtest.h>

#include "tresse/common/publisher.hpp"

namespace tresse::events {
namespace {

using json = nlohmann::json;

TEST(EventCatalogTest, EveryTypeHasASelfContainedSchemaAndAValidExample) {
  for (auto type : known_types) {
    const auto* entry = catalog_entry_for(type);
    ASSERT_NE(entry, nullptr) << type;
    EXPECT_EQ(entry->type, type);
    EXPECT_EQ(entry->schema["$schema"], "https://json-schema.org/draft/2020-12/schema") << type;
    EXPECT_EQ(entry->schema["$id"],
              "https://schemas.tresse.io/webhooks/events/" + std::string(type) + ".json");
    if (entry->schema.contains("$ref")) {
      // What it refers to travels with it.
      bool bundled = false;
      for (const auto& [name, def] : entry->schema["$defs"].items()) {
        bundled = bundled || def["$id"] == entry->schema["$ref"];
      }
      EXPECT_TRUE(bundled) << type;
    }
    ASSERT_TRUE(entry->example.is_object()) << type;
    EXPECT_EQ(check_data(type, entry->example), std::nullopt) << type;
  }
  EXPECT_EQ(catalog_entry_for("appointment.exploded"), nullptr);
}

TEST(EventCatalogTest, AppointmentsFollowThePublicApi) {
  const json example = catalog_entry_for("appointment.created")->example;
  for (const char* field : {"id", "status", "client_id", "service_id", "staff_id", "starts_at",
                            "ends_at", "duration_minutes", "price_cents", "notes", "created_at"}) {
    EXPECT_TRUE(example.contains(field)) << field;
  }
  json bad = example;
  bad["starts_at"] = "next Tuesday";
  EXPECT_EQ(check_data("appointment.created", bad), "data.starts_at: expected string (date-time)");
  bad = example;
  bad.erase("client_id");
  EXPECT_EQ(check_data("appointment.updated", bad), "data.client_id: required field missing");
  bad = example;
  bad["start_at"] = bad["starts_at"];
  EXPECT_EQ(check_data("appointment.created", bad), "data.start_at: unknown field");
  bad = example;
  bad["price_cents"] = "185.00";
  EXPECT_EQ(check_data("appointment.created", bad), "data.price_cents: expected integer");
  // A canceled appointment's event says so.
  EXPECT_EQ(check_data("appointment.canceled", example), "data.status: expected \"canceled\"");
  EXPECT_EQ(check_data("client.created", example).value_or("").substr(0, 5), "data.");
  EXPECT_EQ(check_data("appointment.exploded", example), "unknown event type 'appointment.exploded'");
}

TEST(EventCatalogTest, ChecksAnEventsDataFromItsBytes) {
  auto good = make_event({.type = "webhook.test", .business_id = "biz_1",
                          .data_json = R"({"endpoint_id":"we_1"})"});
  ASSERT_TRUE(good);
  EXPECT_EQ(check_data(*good), std::nullopt);
  auto bad = make_event({.type = "webhook.test", .business_id = "biz_1", .data_json = "{}"});
  ASSERT_TRUE(bad);
  EXPECT_EQ(check_data(*bad), "data.endpoint_id: required field missing");
}

}  // namespace
}  // namespace tresse::events
