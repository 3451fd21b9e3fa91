#include "redis/cluster_slots.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace tresse::dispatcher::redis {
namespace {

// A byte at a time from a table (the bitwise loop cost ~25 instructions a byte: an endpoint's
// retry shard is computed for every ordered release, and a key's slot for every Cluster command).
constexpr std::array<std::uint16_t, 256> crc16_table = [] {
  std::array<std::uint16_t, 256> t{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
    t[byte] = crc;
  }
  return t;
}();

result<slot_map> malformed(std::string_view what) {
  return fail(error_kind::permanent, "redis: malformed " + std::string(what) + " reply");
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// An integer reply, or a string holding one (CLUSTER SHARDS sends ports as integers, some
// proxies as strings).
std::optional<int> int_of(const reply& r) {
  if (r.type == reply::kind::integer) return static_cast<int>(r.integer);
  if (r.type == reply::kind::string) return to_int(r.str);
  return std::nullopt;
}

std::optional<std::uint16_t> slot_of(const reply& r) {
  auto v = int_of(r);
  if (!v || *v < 0 || *v >= cluster_slot_count) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

// [host, port, id, ...] from CLUSTER SLOTS.
std::optional<cluster_node> slots_node(const reply& r) {
  if (r.type != reply::kind::array || r.elements.size() < 2) return std::nullopt;
  auto port = int_of(r.elements[1]);
  if (!port) return std::nullopt;
  // "?" and "": the node does not know its own address; the caller uses the one it dialled.
  std::string host = r.elements[0].is_nil() || r.elements[0].str == "?" ? "" : r.elements[0].str;
  return cluster_node{std::move(host), *port};
}

// The value after `name` in a flat name/value array (RESP2's rendering of a map).
const reply* field(const reply& map, std::string_view name) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].str == name) return &map.elements[i + 1];
  }
  return nullptr;
}

}  // namespace

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char c : data) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

std::string_view hash_tag(std::string_view key) {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint16_t key_slot(std::string_view key) { return crc16(hash_tag(key)) % cluster_slot_count; }

result<slot_map> slot_map::from_ranges(std::vector<slot_range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const slot_range& a, const slot_range& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].first > ranges[i].last) return malformed("slot range");
    if (i > 0 && ranges[i].first <= ranges[i - 1].last) return malformed("overlapping slot range");
  }
  slot_map m;
  m.ranges_ = std::move(ranges);
  return m;
}

result<slot_map> slot_map::from_cluster_slots(const reply& r) {
  if (r.type != reply::kind::array) return malformed("CLUSTER SLOTS");
  std::vector<slot_range> ranges;
  for (const auto& e : r.elements) {
    if (e.type != reply::kind::array || e.elements.size() < 3) return malformed("CLUSTER SLOTS");
    auto first = slot_of(e.elements[0]);
    auto last = slot_of(e.elements[1]);
    auto primary = slots_node(e.elements[2]);
    if (!first || !last || !primary) return malformed("CLUSTER SLOTS");
    slot_range range{*first, *last, std::move(*primary), {}};
    for (std::size_t i = 3; i < e.elements.size(); ++i) {
      auto replica = slots_node(e.elements[i]);
      if (!replica) return malformed("CLUSTER SLOTS");
      range.replicas.push_back(std::move(*replica));
    }
    ranges.push_back(std::move(range));
  }
  return from_ranges(std::move(ranges));
}

result<slot_map> slot_map::from_cluster_shards(const reply& r) {
  if (r.type != reply::kind::array) return malformed("CLUSTER SHARDS");
  std::vector<slot_range> ranges;
  for (const auto& shard : r.elements) {
    const reply* slots = field(shard, "slots");
    const reply* nodes = field(shard, "nodes");
    if (!slots || !nodes || slots->elements.size() % 2 != 0) return malformed("CLUSTER SHARDS");
    std::optional<cluster_node> primary;
    std::vector<cluster_node> replicas;
    for (const auto& n : nodes->elements) {
      const reply* endpoint = field(n, "endpoint");
      const reply* ip = field(n, "ip");
      const reply* port = field(n, "port");
      const reply* role = field(n, "role");
      const reply* health = field(n, "health");
      if (!port || !role || !int_of(*port)) return malformed("CLUSTER SHARDS");
      if (health && health->str != "online") continue;
      std::string host = endpoint && !endpoint->str.empty() && endpoint->str != "?" ? endpoint->str
                         : ip                                                      ? ip->str
                                                                                   : "";
      cluster_node node{std::move(host), *int_of(*port)};
      if (role->str == "master") {
        primary = std::move(node);
      } else {
        replicas.push_back(std::move(node));
      }
    }
    if (slots->elements.empty()) continue;  // a shard that owns no slots (yet)
    if (!primary) continue;                 // its primary failed: those slots have no owner now
    for (std::size_t i = 0; i < slots->elements.size(); i += 2) {
      auto first = slot_of(slots->elements[i]);
      auto last = slot_of(slots->elements[i + 1]);
      if (!first || !last) return malformed("CLUSTER SHARDS");
      ranges.push_back(slot_range{*first, *last, *primary, replicas});
    }
  }
  return from_ranges(std::move(ranges));
}

const cluster_node* slot_map::primary_for(std::uint16_t slot) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), slot,
                             [](std::uint16_t s, const slot_range& r) { return s < r.first; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  return slot <= it->last ? &it->primary : nullptr;
}

std::optional<redirect> parse_redirect(const reply& r) {
  if (r.type != reply::kind::error) return std::nullopt;
  std::string_view s = r.str;
  redirect out;
  if (s.starts_with("MOVED ")) {
    out.type = redirect::kind::moved;
    s.remove_prefix(6);
  } else if (s.starts_with("ASK ")) {
    out.type = redirect::kind::ask;
    s.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = s.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto slot = to_int(s.substr(0, space));
  if (!slot || *slot < 0 || *slot >= cluster_slot_count) return std::nullopt;
  out.slot = static_cast<std::uint16_t>(*slot);
  // host:port, the host possibly an IPv6 address with colons of its own: the port follows the
  // last colon.
  const std::string_view address = s.substr(space + 1);
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port = to_int(address.substr(colon + 1));
  if (!port || *port <= 0 || *port > 65535) return std::nullopt;
  out.target = cluster_node{std::string(address.substr(0, colon)), *port};
  return out;
}

}  // namespace tresse::dispatcher::redis
