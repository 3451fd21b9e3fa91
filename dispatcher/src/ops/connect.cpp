#include "ops/connect.hpp"

#include <utility>

#include "registry/secret_box.hpp"
#include "retry/store.hpp"
#include "tresse/cli/program.hpp"

namespace tresse::dispatcher::ops {

void add_redis_flag(CLI::App& cmd, store_flags& flags) {
  cmd.add_option("--redis", flags.redis_url, "the Redis the dispatchers use")
      ->type_name("URL")
      ->envname("TRESSE_REDIS_URL")
      ->capture_default_str();
}

void add_store_flags(CLI::App& cmd, store_flags& flags) {
  add_redis_flag(cmd, flags);
  cmd.add_option("--encryption-key", flags.encryption_key,
                 "registry.encryption_key: hex or base64 of 32 bytes (the environment keeps it "
                 "out of ps)")
      ->type_name("KEY")
      ->envname("TRESSE_REGISTRY_ENCRYPTION_KEY");
}

std::shared_ptr<redis::client> redis_client(const store_flags& flags) {
  auto opts = redis::parse_url(flags.redis_url);
  if (!opts) throw tresse::cli::usage_error("--redis: " + opts.error().message);
  opts->pool_size = 1;
  return std::make_shared<redis::client>(*opts);
}

registry::store open_store(const store_flags& flags, std::shared_ptr<redis::client> redis) {
  registry::store_options opts;
  if (!flags.encryption_key.empty()) {
    auto box = registry::secret_box::from_text(flags.encryption_key);
    if (!box) throw tresse::cli::usage_error("--encryption-key: " + box.error().message);
    opts.encryption = std::move(*box);
  }
  // Deleting an endpoint purges its ordered queues, in its retry shard: the dispatchers' count.
  if (auto shards = retry::store::recorded_shard_count(*redis)) opts.retry_shards = *shards;
  return registry::store(std::move(redis), std::move(opts));
}

}  // namespace tresse::dispatcher::ops
