// tresse-webhook sign: the three Standard Webhooks headers for a body.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "receiver/cli/args.hpp"
#include "receiver/cli/commands.hpp"
#include "tresse/receiver/sign.hpp"

namespace tresse::cli {

const char* const sign_help =
    R"(usage: tresse-webhook sign (--secret KEY | --secret-file FILE)... --id ID
                           --timestamp UNIX [--body-file FILE]

Prints the headers that sign the body (read from stdin without --body-file), one
'name: value' line each:
  webhook-id: ID
  webhook-timestamp: UNIX
  webhook-signature: v1,<base64>        (one entry per --secret, space-separated)

  --secret KEY       whsec_<base64> (HMAC, v1) or whsk_<base64> (Ed25519, v1a); repeat to sign
                     with several keys, as during a secret rotation
  --secret-file FILE secrets from FILE, one per line ('#' comments); repeatable
  --id ID            the webhook-id (the event id)
  --timestamp UNIX   the webhook-timestamp, unix seconds
  --body-file FILE   the exact body bytes to sign (default: stdin)
Without --secret and --secret-file, the secrets come from TRESSE_WEBHOOK_SECRET (separated by
spaces), which keeps them off the command line.
)";

int sign_command(int argc, const char* const* argv) {
  auto opts =
      options::parse(argc, argv, {"secret", "secret-file", "id", "timestamp", "body-file"}, {});
  auto keys = parse_secrets(opts);
  std::string id = opts.required("id");
  if (id.empty()) throw usage_error("--id must not be empty");
  opts.required("timestamp");
  std::int64_t timestamp =
      opts.integer("timestamp", 0, 0, std::numeric_limits<std::int64_t>::max());
  std::string body = read_body(opts.optional("body-file"));

  std::error_code ec;
  std::string signature = receiver::sign_all(keys, id, timestamp, body, ec);
  if (ec) throw usage_error("a --secret cannot sign (public keys only verify)");
  std::printf("%s: %s\n%s: %lld\n%s: %s\n", std::string(receiver::header_id).c_str(), id.c_str(),
              std::string(receiver::header_timestamp).c_str(), static_cast<long long>(timestamp),
              std::string(receiver::header_signature).c_str(), signature.c_str());
  return std::fflush(stdout) == 0 ? exit_ok : exit_rejected;
}

}  // namespace tresse::cli
