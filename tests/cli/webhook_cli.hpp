// Shared by the tresse-webhook CLI tests: run the built binary, and sign with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"

namespace tresse::test {

// The Standard Webhooks specification's own test vector.
inline constexpr std::string_view spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr std::string_view spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
inline constexpr std::string_view spec_timestamp = "1614265330";
inline constexpr std::string_view spec_body = R"({"test": 2432232314})";
inline constexpr std::string_view spec_signature =
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// A second secret, for rotation tests.
inline constexpr std::string_view other_secret =
    "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

inline process_result webhook_cli(std::vector<std::string> args, std::string_view input = {}) {
  args.insert(args.begin(), TRESSE_WEBHOOK_BIN);
  return run_process(args, input);
}

// The text after "name: " on the line starting with it, or "".
inline std::string header_value(const std::string& output, std::string_view name) {
  std::string prefix = std::string(name) + ": ";
  std::size_t pos = 0;
  while (pos < output.size()) {
    std::size_t end = output.find('\n', pos);
    if (end == std::string::npos) end = output.size();
    std::string_view line(output.data() + pos, end - pos);
    if (line.starts_with(prefix)) return std::string(line.substr(prefix.size()));
    pos = end + 1;
  }
  return "";
}

// The headers `tresse-webhook sign` prints, as HTTP headers. Empty when signing failed.
inline http_headers sign_with_cli(const std::vector<std::string>& secrets, const std::string& id,
                                  long long timestamp, std::string_view body) {
  std::vector<std::string> args = {"sign", "--id", id, "--timestamp", std::to_string(timestamp)};
  for (const auto& s : secrets) {
    args.push_back("--secret");
    args.push_back(s);
  }
  auto r = webhook_cli(args, body);
  if (r.exit_code != 0) return {};
  http_headers headers;
  for (const char* name : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
    headers.emplace_back(name, header_value(r.out, name));
  }
  return headers;
}

// The first whitespace-separated word of `text`.
inline std::string first_word(const std::string& text) {
  auto end = text.find_first_of(" \t\n");
  return text.substr(0, end);
}

}  // namespace tresse::test
