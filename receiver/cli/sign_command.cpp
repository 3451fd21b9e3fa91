// tresse-webhook sign: the three Standard Webhooks headers for a body.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "receiver/cli/commands.hpp"
#include "receiver/cli/input.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::cli {
namespace {

struct sign_options {
  secret_flags secrets;
  std::string id;
  std::int64_t timestamp = 0;
  std::string body_file;
};

int sign(const sign_options& o) {
  if (o.id.empty()) throw usage_error("--id must not be empty");
  auto keys = parse_secrets(o.secrets);
  std::string body = read_body(o.body_file);
  std::error_code ec;
  std::string signature = receiver::sign_all(keys, o.id, o.timestamp, body, ec);
  if (ec) throw usage_error("a --secret cannot sign (public keys only verify)");
  std::printf("%s: %s\n%s: %lld\n%s: %s\n", std::string(receiver::header_id).c_str(), o.id.c_str(),
              std::string(receiver::header_timestamp).c_str(), static_cast<long long>(o.timestamp),
              std::string(receiver::header_signature).c_str(), signature.c_str());
  return std::fflush(stdout) == 0 ? exit_ok : exit_rejected;
}

}  // namespace

void add_sign_command(program& p) {
  auto o = std::make_shared<sign_options>();
  CLI::App& cmd =
      p.command(p.app(), "sign", "print the headers that sign a body", [o] { return sign(*o); });
  cmd.footer(
      std::string("Prints the headers that sign the body (read from stdin without --body-file), "
                  "one\n'name: value' line each:\n"
                  "  webhook-id: ID\n"
                  "  webhook-timestamp: UNIX\n"
                  "  webhook-signature: v1,<base64>   (one entry per secret, space-separated)\n") +
      secret_env_note);
  add_secret_flags(cmd, o->secrets);
  cmd.add_option("--id", o->id, "the webhook-id (the event id)")->required();
  cmd.add_option("--timestamp", o->timestamp, "the webhook-timestamp, unix seconds")
      ->required()
      ->type_name("UNIX")
      ->check(tresse::cli::non_negative());
  cmd.add_option("--body-file", o->body_file, "the exact body bytes to sign (default: stdin)")
      ->type_name("FILE");
}

}  // namespace tresse::cli
