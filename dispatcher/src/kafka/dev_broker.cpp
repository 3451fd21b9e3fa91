#include "kafka/dev_broker.hpp"

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tresse/common/kafka_mock_cluster.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher::kafka {
namespace {

constexpr std::string_view usage =
    "usage: tresse-dispatcher dev-broker --bootstrap-file F [--partitions N] [--topic T]...\n";

bool write_atomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << '\n';
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int run_dev_broker(int argc, char** argv) {
  std::string bootstrap_file;
  tresse::kafka::mock_cluster_options options;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "dev-broker: " << a << " needs a value\n" << usage;
      return 2;
    }
    std::string_view v = argv[++i];
    if (a == "--bootstrap-file") {
      bootstrap_file = v;
    } else if (a == "--topic") {
      topics.emplace_back(v);
    } else if (a == "--partitions") {
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), options.partitions);
      if (ec != std::errc() || end != v.data() + v.size() || options.partitions < 1 ||
          options.partitions > 1000) {
        std::cerr << "dev-broker: bad --partitions " << v << "\n";
        return 2;
      }
    } else {
      std::cerr << "dev-broker: unknown option " << a << "\n" << usage;
      return 2;
    }
  }
  if (bootstrap_file.empty()) {
    std::cerr << usage;
    return 2;
  }
  if (!topics.empty()) options.topics = topics;

  // Block the stop signals before librdkafka starts its threads (they inherit the mask), so
  // sigwait below is the only place they are received.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto cluster = tresse::kafka::mock_cluster::start(options);
  if (!cluster) {
    log::error("dev-broker could not start", {{"error", cluster.error().message}});
    return 1;
  }
  if (!write_atomically(bootstrap_file, (*cluster)->bootstrap())) {
    log::error("dev-broker could not write the bootstrap file", {{"path", bootstrap_file}});
    return 1;
  }
  log::info("dev-broker listening", {{"bootstrap", (*cluster)->bootstrap()},
                                     {"topics", options.topics},
                                     {"partitions", options.partitions}});
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("dev-broker stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  std::error_code ec;
  std::filesystem::remove(bootstrap_file, ec);
  cluster->reset();
  return 0;
}

}  // namespace tresse::dispatcher::kafka
