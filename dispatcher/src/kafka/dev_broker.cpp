#include "kafka/dev_broker.hpp"

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tresse/common/kafka_mock_cluster.hpp"
#include "tresse/common/log.hpp"

namespace tresse::dispatcher::kafka {
namespace {

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

int run_dev_broker(const dev_broker_options& o) {
  const std::string& bootstrap_file = o.bootstrap_file;
  const tresse::kafka::mock_cluster_options& options = o.cluster;

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
