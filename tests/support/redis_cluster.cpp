#include "support/redis_cluster.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"

namespace tresse::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* redis_cli = "/usr/bin/redis-cli";

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty() && part.back() == '\r') part.pop_back();
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

int to_int(std::string_view s) {
  int v = -1;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// One line of CLUSTER NODES: "<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch>
// <link> <slot or range>...", of a primary that is not marked failing.
struct primary_line {
  int port = 0;
  std::vector<std::pair<int, int>> ranges;
};

std::vector<primary_line> healthy_primaries(const std::string& cluster_nodes) {
  std::vector<primary_line> out;
  for (const auto& line : split(cluster_nodes, '\n')) {
    const auto f = split(line, ' ');
    if (f.size() < 8) continue;
    const std::string& flags = f[2];
    if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos) {
      continue;
    }
    primary_line p;
    p.port = to_int(f[1].substr(f[1].rfind(':') + 1, f[1].find('@') - f[1].rfind(':') - 1));
    for (std::size_t i = 8; i < f.size(); ++i) {
      if (f[i].starts_with('[')) continue;  // a slot being migrated or imported
      const auto dash = f[i].find('-');
      const int lo = to_int(f[i].substr(0, dash));
      const int hi = dash == std::string::npos ? lo : to_int(f[i].substr(dash + 1));
      p.ranges.emplace_back(lo, hi);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

redis_cluster::redis_cluster(redis_cluster_options opts) {
  const int n = opts.primaries * (1 + opts.replicas);
  for (int i = 0; i < n; ++i) {
    nodes_.push_back(std::make_unique<redis_server>(redis_server_options{
        .extra = {"--cluster-enabled", "yes", "--cluster-node-timeout",
                  std::to_string(opts.node_timeout.count()),
                  // A primary down (before its replica is promoted) leaves the others serving.
                  "--cluster-require-full-coverage", "no",
                  // A replica's first sync would wait 5 s for more replicas: not in a test.
                  "--repl-diskless-sync-delay", "0",
                  // Replication offsets move every second, even idle: CLUSTER SLOTS lists a
                  // replica once its offset is not 0.
                  "--repl-ping-replica-period", "1"}}));
  }
  // `--cluster create` makes the first `primaries` nodes primaries, the rest their replicas.
  std::vector<std::string> create{redis_cli, "--cluster", "create"};
  for (const auto& node : nodes_) create.push_back("127.0.0.1:" + std::to_string(node->port()));
  create.insert(create.end(),
                {"--cluster-replicas", std::to_string(opts.replicas), "--cluster-yes"});
  const auto r = run_process(create, {}, 60s);
  if (r.exit_code != 0) throw std::runtime_error("redis-cli --cluster create: " + r.out + r.err);
  if (!wait_healthy(60s)) throw std::runtime_error("redis_cluster: the cluster never came up");
  if (opts.replicas > 0) {
    // Every replica synced (a primary killed now has one to promote that holds its data), and
    // known as a replica to every node (CLUSTER SLOTS lists it).
    const int want = opts.primaries * opts.replicas;
    const auto synced = [&] {
      int online = 0;
      for (std::size_t i = 0; i < size(); ++i) {
        for (const auto& line : split(cli(i, {"INFO", "replication"}), '\n')) {
          if (line.starts_with("slave") && line.find("state=online") != std::string::npos) {
            ++online;
          }
        }
        int known = 0;
        for (const auto& line : split(cli(i, {"CLUSTER", "NODES"}), '\n')) {
          const auto f = split(line, ' ');
          if (f.size() > 2 && f[2].find("slave") != std::string::npos &&
              f[2].find("fail") == std::string::npos) {
            ++known;
          }
        }
        if (known != want) return false;
      }
      if (online != want) return false;
      // CLUSTER SLOTS lists a replica only once its gossiped offset is not 0.
      std::vector<std::string> replica_ports;
      for (std::size_t i = 0; i < size(); ++i) {
        if (cli(i, {"ROLE"}).starts_with("slave")) {
          replica_ports.push_back(std::to_string(nodes_[i]->port()));
        }
      }
      for (std::size_t i = 0; i < size(); ++i) {
        const auto lines = split(cli(i, {"CLUSTER", "SLOTS"}), '\n');
        for (const auto& port : replica_ports) {
          if (std::find(lines.begin(), lines.end(), port) == lines.end()) return false;
        }
      }
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!synced()) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("redis_cluster: the replicas never synced");
      }
      std::this_thread::sleep_for(100ms);
    }
  }
}

std::string redis_cluster::url() const {
  std::string hosts;
  for (const auto& node : nodes_) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(node->port());
  }
  return "redis+cluster://" + hosts + "/0";
}

std::string redis_cluster::cli(std::size_t i, const std::vector<std::string>& args) const {
  std::vector<std::string> argv{redis_cli, "-p", std::to_string(nodes_[i]->port())};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv, {}, 30s);
  if (r.exit_code != 0 || r.out.starts_with("ERR") || r.out.starts_with("(error)")) {
    throw std::runtime_error("redis-cli " + args.front() + ": " + r.out + r.err);
  }
  return r.out;
}

std::string redis_cluster::id_of(std::size_t i) const {
  auto out = cli(i, {"CLUSTER", "MYID"});
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

int redis_cluster::owner_of(std::uint16_t slot) const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (!nodes_[i]->running()) continue;
    for (const auto& p : healthy_primaries(cli(i, {"CLUSTER", "NODES"}))) {
      for (const auto& [lo, hi] : p.ranges) {
        if (slot < lo || slot > hi) continue;
        for (std::size_t k = 0; k < size(); ++k) {
          if (nodes_[k]->port() == p.port && nodes_[k]->running()) return static_cast<int>(k);
        }
      }
    }
    return -1;
  }
  return -1;
}

int redis_cluster::replica_of(std::size_t i) const {
  // INFO replication: "slave0:ip=127.0.0.1,port=7004,state=online,offset=...,lag=0".
  for (const auto& line : split(cli(i, {"INFO", "replication"}), '\n')) {
    if (!line.starts_with("slave") || line.find("state=online") == std::string::npos) continue;
    const auto at = line.find("port=");
    if (at == std::string::npos) continue;
    const int port = to_int(line.substr(at + 5, line.find(',', at) - at - 5));
    for (std::size_t k = 0; k < size(); ++k) {
      if (nodes_[k]->port() == port) return static_cast<int>(k);
    }
  }
  return -1;
}

std::uint16_t redis_cluster::slot_of(const std::string& key) const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (nodes_[i]->running()) return static_cast<std::uint16_t>(to_int(cli(i, {"CLUSTER", "KEYSLOT", key})));
  }
  throw std::runtime_error("redis_cluster: no node running");
}

bool redis_cluster::healthy() const {
  try {
    for (std::size_t i = 0; i < size(); ++i) {
      if (!nodes_[i]->running()) continue;
      if (cli(i, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) return false;
      std::vector<bool> covered(16384, false);
      for (const auto& p : healthy_primaries(cli(i, {"CLUSTER", "NODES"}))) {
        bool alive = false;
        for (const auto& node : nodes_) alive = alive || (node->port() == p.port && node->running());
        if (!alive) continue;
        for (const auto& [lo, hi] : p.ranges) {
          for (int s = lo; s <= hi && s < 16384; ++s) covered[s] = true;
        }
      }
      for (bool c : covered) {
        if (!c) return false;
      }
    }
    return true;
  } catch (const std::runtime_error&) {
    return false;  // a node busy or going away: not yet
  }
}

bool redis_cluster::wait_healthy(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!healthy()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

redis_cluster::migration redis_cluster::migrate_key_alone(const std::string& key,
                                                           std::uint16_t slot) {
  const int from = owner_of(slot);
  if (from < 0) throw std::runtime_error("redis_cluster: no node serves slot " + std::to_string(slot));
  const int to = (from + 1) % static_cast<int>(nodes_.size());
  const std::string s = std::to_string(slot);
  cli(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", id_of(from)});
  cli(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", id_of(to)});
  cli(from, {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), "", "0", "5000", "KEYS", key});
  return {slot, from, to};
}

void redis_cluster::move_slot(std::uint16_t slot, std::size_t from, std::size_t to, int batch,
                              const std::function<void()>& between) {
  const std::string s = std::to_string(slot);
  const std::string to_id = id_of(to);
  cli(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", id_of(from)});
  cli(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
  for (;;) {
    const auto keys = split(cli(from, {"CLUSTER", "GETKEYSINSLOT", s, std::to_string(batch)}), '\n');
    if (keys.empty()) break;
    std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()),
                                     "", "0", "5000", "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    cli(from, migrate);
    if (between) between();
  }
  // As redis-cli does: the target first, then the source, then everyone else.
  cli(to, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
  cli(from, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
  for (std::size_t i = 0; i < size(); ++i) {
    if (i == from || i == to || !nodes_[i]->running()) continue;
    if (cli(i, {"ROLE"}).starts_with("master")) cli(i, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
  }
}

}  // namespace tresse::test
