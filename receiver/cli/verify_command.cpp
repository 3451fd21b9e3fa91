// tresse-webhook verify: is this webhook authentic?
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "receiver/cli/commands.hpp"
#include "receiver/cli/input.hpp"
#include "tresse/receiver/verify.hpp"

namespace tresse::cli {
namespace {

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

struct verify_options {
  secret_flags secrets;
  std::vector<std::string> headers;
  std::string body_file;
  std::optional<std::int64_t> now;
  std::int64_t tolerance = 300;
};

std::vector<std::pair<std::string, std::string>> parse_headers(const verify_options& opts) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : opts.headers) {
    auto colon = h.find(':');
    std::string_view name =
        colon == std::string::npos ? "" : trim(std::string_view(h).substr(0, colon));
    if (name.empty()) throw usage_error("--header must look like \"name: value\", got '" + h + "'");
    headers.emplace_back(std::string(name),
                         std::string(trim(std::string_view(h).substr(colon + 1))));
  }
  return headers;
}

int verify(const verify_options& opts) {
  auto headers = parse_headers(opts);
  receiver::verifier_options vo;
  vo.tolerance = std::chrono::seconds(opts.tolerance);
  if (opts.now) {
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(*opts.now));
    vo.clock = [now] { return now; };
  }
  std::string body = read_body(opts.body_file);
  std::vector<receiver::key> keys;
  try {
    keys = parse_secrets(opts.secrets);
  } catch (const invalid_secret_error& e) {
    // One of verify's outcomes, like the verifier's own invalid_secret: the usage was right.
    std::printf("%s (%s)\n",
                std::string(receiver::to_string(receiver::errc::invalid_secret)).c_str(), e.what());
    return exit_rejected;
  }

  receiver::verifier verifier(std::move(keys), std::move(vo));
  receiver::verification v = verifier.verify(headers, body);
  if (v) {
    std::puts("valid");
    return exit_ok;
  }
  std::string line(receiver::to_string(v.code()));
  if (!v.message.empty()) line += " (" + v.message + ")";
  std::puts(line.c_str());
  return exit_rejected;
}

}  // namespace

void add_verify_command(program& p) {
  auto o = std::make_shared<verify_options>();
  CLI::App& cmd = p.command(p.app(), "verify",
                            "check a webhook's headers and body; exit 0 when valid, 1 when not",
                            [o] { return verify(*o); });
  cmd.footer(
      std::string(
          "Verifies a webhook's signature and timestamp against the body (read from stdin\n"
          "without --body-file). Prints 'valid' and exits 0, or prints the error code as the\n"
          "first word, then the reason, and exits 1:\n"
          "  missing_header, invalid_timestamp, timestamp_too_old, timestamp_too_new,\n"
          "  no_matching_signature, invalid_secret (a secret that does not parse)\n"
          "Exits 2 on bad usage (unknown option, bad number, no secret, an unreadable file).\n") +
      secret_env_note);
  add_secret_flags(cmd, o->secrets);
  cmd.add_option("--header", o->headers,
                 "a request header, e.g. \"webhook-id: evt_1\"; repeat (names in any case)")
      ->type_name("\"NAME: VALUE\"")
      ->allow_extra_args(false);
  cmd.add_option("--body-file", o->body_file, "the exact body bytes received (default: stdin)")
      ->type_name("FILE");
  cmd.add_option("--now", o->now, "the current time, unix seconds (default: the system clock)")
      ->type_name("UNIX")
      ->check(in_range(0, std::int64_t{std::numeric_limits<std::int32_t>::max()} * 1000));
  cmd.add_option("--tolerance", o->tolerance, "accepted clock skew in both directions, in seconds")
      ->type_name("SECONDS")
      ->check(in_range(0, std::numeric_limits<std::int32_t>::max()))
      ->capture_default_str();
}

}  // namespace tresse::cli
