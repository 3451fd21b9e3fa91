// The event catalog: a JSON Schema (2020-12) and an example of each event type's `data`, from
// the files in common/schemas/ (embedded at build: the one source of truth). Appointment and
// client objects are the Tresse REST API's resources (common/schemas/resources/).
//
//   const auto* entry = tresse::events::catalog_entry_for("appointment.created");
//   entry->schema;    // self-contained: the resource it refers to is bundled under $defs
//   entry->example;   // a valid data object
//   auto why = tresse::events::check_data("appointment.created", data);
//   // "data.starts_at: expected string (date-time)", or nullopt when it matches
//
// The schemas use the subset tresse/common/json_schema.hpp validates; tests/api/catalog.mjs
// checks every example and scripts/try's events with Ajv, and that Ajv and check_data agree.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/event.hpp"

namespace tresse::events {

struct catalog_entry {
  std::string_view type;
  nlohmann::json schema;   // of the event's data, bundled (no reference leaves it)
  nlohmann::json example;  // the schema's first example
};

// The entry of a known type (every one of known_types has one), or null.
const catalog_entry* catalog_entry_for(std::string_view type);

// Why `data` does not match the schema of `type`, naming the field ("data.starts_at: expected
// string (date-time)", "data.status: expected \"canceled\"", "data.foo: unknown field"), or
// nullopt when it matches. An unknown type is a reason too.
std::optional<std::string> check_data(std::string_view type, const nlohmann::json& data);
// The same for an event's `data` (from its raw bytes).
std::optional<std::string> check_data(const event& ev);

}  // namespace tresse::events
