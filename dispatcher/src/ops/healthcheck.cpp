// `tresse-dispatcher healthcheck [--address HOST:PORT] [--path /readyz] [--timeout 3s]`: GET an
// admin path of a running dispatcher. Exit 0 when the answer is 200, 1 on any other answer, a
// refused connection or the timeout, 2 on bad usage. The answer's body goes to stdout.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "admin/probe.hpp"
#include "config/config.hpp"
#include "ops/commands.hpp"

namespace tresse::dispatcher::ops {
namespace {

struct healthcheck_flags {
  std::string address = "127.0.0.1:9464";
  std::string path = "/readyz";
  std::string timeout = "3s";
};

// "3s", "500ms": the config's duration syntax, through its parser.
std::chrono::milliseconds parse_timeout(const std::string& text) {
  config c;
  try {
    set_value(c, "delivery.timeout", text);
  } catch (const config_error&) {
    throw tresse::cli::usage_error("--timeout must be a duration such as 3s or 500ms");
  }
  return c.delivery.timeout;
}

int healthcheck(const healthcheck_flags& f) {
  admin::probe_options o;
  o.path = f.path;
  o.timeout = parse_timeout(f.timeout);
  try {
    const auto a = parse_listen_address(f.address);
    o.host = a.host == "0.0.0.0" ? "127.0.0.1" : a.host == "::" ? "::1" : a.host;
    o.port = a.port;
  } catch (const config_error& e) {
    throw tresse::cli::usage_error(std::string("--address: ") + e.what());
  }
  auto answer = admin::probe(o);
  if (!answer) {
    std::cerr << "healthcheck: " << o.path << " on " << to_string(listen_address{o.host, o.port})
              << ": " << answer.error().message << "\n";
    return 1;
  }
  std::cout << answer->body;
  if (!answer->body.ends_with('\n')) std::cout << '\n';
  return answer->status == 200 ? 0 : 1;
}

}  // namespace

void add_healthcheck_command(tresse::cli::program& p) {
  auto f = std::make_shared<healthcheck_flags>();
  CLI::App& cmd = p.command(p.app(), "healthcheck",
                            "probe a running dispatcher's /readyz (exit 0 ready, 1 not)",
                            [f] { return healthcheck(*f); });
  cmd.footer(
      "GETs the admin endpoint's PATH and prints the answer; exit 0 on 200, 1 otherwise\n"
      "(refused, 503, timeout), 2 on bad usage. A wildcard host (0.0.0.0, ::) is probed on\n"
      "loopback. For container and compose healthchecks: no curl or shell needed.");
  cmd.add_option("--address", f->address, "the admin listener (admin.listen)")
      ->type_name("HOST:PORT")
      ->envname("TRESSE_ADMIN_LISTEN")
      ->capture_default_str();
  cmd.add_option("--path", f->path, "the admin path to GET")
      ->check(CLI::Validator(
          [](const std::string& v) { return v.starts_with('/') ? "" : "must start with /"; },
          "PATH"))
      ->capture_default_str();
  cmd.add_option("--timeout", f->timeout, "for the whole exchange (500ms, 3s, ...)")
      ->type_name("DURATION")
      ->capture_default_str();
}

}  // namespace tresse::dispatcher::ops
