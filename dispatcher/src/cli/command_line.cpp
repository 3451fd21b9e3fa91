#include "cli/command_line.hpp"

#include <memory>

#include "config/config.hpp"
#include "kafka/dev_broker.hpp"
#include "ops/commands.hpp"
#include "tresse/cli/program.hpp"

namespace tresse::dispatcher::cli {
namespace {

void add_run_command(tresse::cli::program& p, const std::function<int(const run_request&)>& run,
                     run_request& r) {
  CLI::App& cmd = p.command(p.app(), "run", "run the dispatcher (--check: validate and exit)",
                            [&run, &r] { return run(r); });
  // Every key, its default and meaning (tests/deploy checks the deploy files against it).
  cmd.footer(help_text());
  cmd.add_option("-c,--config", r.config_file, "a file of `key = value` lines")->type_name("FILE");
  cmd.add_option("--set", r.overrides, "set one key (repeatable), after the file and environment")
      ->type_name("key=value")
      ->allow_extra_args(false)
      // The value is never echoed: it may be a Redis URL with its password.
      ->check(CLI::Validator(
          [](const std::string& v) {
            return v.find('=') == std::string::npos ? "expected key=value" : "";
          },
          ""));
  cmd.add_flag("--check", r.check,
               "validate the configuration, connect to Kafka and Redis, report, exit 0 or 1");
}

void add_dev_broker_command(tresse::cli::program& p) {
  auto o = std::make_shared<kafka::dev_broker_options>();
  o->cluster.topics.clear();  // none given: the cluster's default topics
  CLI::App& cmd =
      p.command(p.app(), "dev-broker", "run librdkafka's mock Kafka cluster on its own", [o] {
        kafka::dev_broker_options chosen = *o;
        if (chosen.cluster.topics.empty()) {
          chosen.cluster.topics = tresse::kafka::mock_cluster_options{}.topics;
        }
        return kafka::run_dev_broker(chosen);
      });
  cmd.footer(
      "For the local try-out: writes the bootstrap address (127.0.0.1:PORT) to the file once\n"
      "the brokers listen, runs until SIGTERM or SIGINT, then removes the file. Consumer groups\n"
      "and their offsets live as long as the process.");
  cmd.add_option("--bootstrap-file", o->bootstrap_file, "where to write the bootstrap address")
      ->type_name("FILE")
      ->required();
  cmd.add_option("--partitions", o->cluster.partitions, "partitions per topic")
      ->type_name("N")
      ->check(tresse::cli::in_range(1, 1000))
      ->capture_default_str();
  cmd.add_option("--topic", o->cluster.topics,
                 "a topic to create; repeatable (default: tresse.events and its dead-letter and "
                 "ops topics)")
      ->type_name("TOPIC")
      ->allow_extra_args(false);
}

}  // namespace

int main(int argc, const char* const* argv,
         const std::function<int(const run_request&)>& run_daemon) {
  tresse::cli::program p("tresse-dispatcher",
                         "Consume events from Kafka, fan out, sign, POST, retry, dead-letter; "
                         "manage endpoints and keys.");
  p.app().footer("Run 'tresse-dispatcher <command> --help' for its flags.");
  run_request request;
  add_run_command(p, run_daemon, request);
  ops::add_healthcheck_command(p);
  add_dev_broker_command(p);
  ops::add_endpoints_command(p);
  ops::add_deliveries_command(p);
  ops::add_keys_command(p);
  ops::add_migrate_keys_command(p);
  return p.main(argc, argv);
}

}  // namespace tresse::dispatcher::cli
