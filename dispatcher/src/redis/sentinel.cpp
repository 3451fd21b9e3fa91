#include "redis/sentinel.hpp"

#include <array>
#include <charconv>
#include <string_view>

namespace tresse::dispatcher::redis {

result<address> parse_master_address(const reply& r) {
  if (r.is_nil()) return fail(error_kind::transient, "sentinel does not know the master name");
  if (r.type == reply::kind::error) return fail(error_kind::transient, "sentinel: " + r.str);
  if (r.type != reply::kind::array || r.elements.size() != 2 ||
      r.elements[0].type != reply::kind::string || r.elements[1].type != reply::kind::string) {
    return fail(error_kind::transient, "sentinel: unexpected get-master-addr-by-name reply");
  }
  address a{r.elements[0].str, 0};
  const std::string& port = r.elements[1].str;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (ec != std::errc() || p != port.data() + port.size() || a.port <= 0 || a.port > 65535 ||
      a.host.empty()) {
    return fail(error_kind::transient, "sentinel: bad address in get-master-addr-by-name reply");
  }
  return a;
}

result<role> parse_role(const reply& r) {
  if (r.type != reply::kind::array || r.elements.empty() ||
      r.elements[0].type != reply::kind::string) {
    return fail(error_kind::transient, "redis: unexpected ROLE reply");
  }
  role out;
  out.primary = r.elements[0].str == "master";
  if (out.primary && r.elements.size() >= 3 && r.elements[2].type == reply::kind::array) {
    out.replicas = r.elements[2].elements.size();
  }
  return out;
}

result<address> resolve_primary(const options& o) {
  error last{error_kind::transient, "sentinel: no sentinel configured"};
  for (const auto& s : o.sentinels) {
    options direct;
    direct.host = s.host;
    direct.port = s.port;
    direct.connect_timeout = o.connect_timeout;
    direct.command_timeout = o.command_timeout;
    connection c(direct);
    const std::array<std::string_view, 3> ask{"SENTINEL", "get-master-addr-by-name", o.master_name};
    auto r = c.command(ask);
    auto a = r ? parse_master_address(*r) : result<address>(std::unexpected(r.error()));
    if (a) return a;
    last = error{error_kind::transient,
                 "sentinel " + s.host + ":" + std::to_string(s.port) + ": " + a.error().message};
  }
  return std::unexpected(last);
}

result<address> server_address(const options& o) {
  if (!o.uses_sentinel()) return address{o.host, o.port};
  return resolve_primary(o);
}

bool is_demoted(const reply& r) {
  return r.type == reply::kind::error && r.str.starts_with("READONLY");
}

}  // namespace tresse::dispatcher::redis
