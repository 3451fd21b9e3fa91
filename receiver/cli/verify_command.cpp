// tresse-webhook verify: is this webhook authentic?
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "receiver/cli/args.hpp"
#include "receiver/cli/commands.hpp"
#include "tresse/receiver/verify.hpp"

namespace tresse::cli {

const char* const verify_help =
    R"(usage: tresse-webhook verify (--secret KEY | --secret-file FILE)...
                             --header "name: value"... [--body-file FILE] [--now UNIX]
                             [--tolerance SECONDS]

Verifies a webhook's signature and timestamp against the body (read from stdin without
--body-file). Prints 'valid' and exits 0, or prints the error code as the first word, then
the reason, and exits 1:
  missing_header, invalid_timestamp, timestamp_too_old, timestamp_too_new,
  no_matching_signature, invalid_secret (a secret that does not parse)
Exits 2 on bad usage (unknown option, bad number, no secret, an unreadable file).

  --secret KEY          whsec_<base64>, whsk_<base64> or whpk_<base64>; repeat for rotation
  --secret-file FILE    secrets from FILE, one per line ('#' comments); repeatable
  --header "n: v"       a request header, e.g. "webhook-id: evt_1"; repeat (names any case)
  --body-file FILE      the exact body bytes received (default: stdin)
  --now UNIX            the current time, unix seconds (default: the system clock)
  --tolerance SECONDS   accepted clock skew in both directions (default 300)
Without --secret and --secret-file, the secrets come from TRESSE_WEBHOOK_SECRET (separated by
spaces), which keeps them off the command line.
)";

namespace {

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::vector<std::pair<std::string, std::string>> parse_headers(const options& opts) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : opts.all("header")) {
    auto colon = h.find(':');
    std::string_view name =
        colon == std::string::npos ? "" : trim(std::string_view(h).substr(0, colon));
    if (name.empty()) throw usage_error("--header must look like \"name: value\", got '" + h + "'");
    headers.emplace_back(std::string(name),
                         std::string(trim(std::string_view(h).substr(colon + 1))));
  }
  return headers;
}

}  // namespace

int verify_command(int argc, const char* const* argv) {
  auto opts = options::parse(
      argc, argv, {"secret", "secret-file", "header", "body-file", "now", "tolerance"}, {});
  auto headers = parse_headers(opts);
  receiver::verifier_options vo;
  vo.tolerance = std::chrono::seconds(
      opts.integer("tolerance", vo.tolerance.count(), 0, std::numeric_limits<std::int32_t>::max()));
  if (opts.has("now")) {
    auto now = std::chrono::system_clock::time_point(std::chrono::seconds(
        opts.integer("now", 0, 0, std::numeric_limits<std::int32_t>::max() * 1000LL)));
    vo.clock = [now] { return now; };
  }
  std::string body = read_body(opts.optional("body-file"));
  std::vector<receiver::key> keys;
  try {
    keys = parse_secrets(opts);
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

}  // namespace tresse::cli
