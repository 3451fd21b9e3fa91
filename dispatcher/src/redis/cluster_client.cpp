#include "redis/cluster_client.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <map>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_future.hpp>

#include "http/header_syntax.hpp"
#include "redis/async_client.hpp"
#include "redis/resp_reader.hpp"

namespace tresse::dispatcher::redis {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using http::iequals;

namespace {

// Commands whose argv[1] is not a key (or that have no argument at all).
bool keyless(std::string_view name) {
  for (std::string_view k : {"PING", "INFO", "SCRIPT", "CLUSTER", "ECHO", "TIME", "DBSIZE",
                             "FLUSHALL", "FLUSHDB", "WAIT", "ROLE", "CLIENT", "CONFIG", "ASKING",
                             "READONLY", "SELECT", "AUTH", "HELLO", "COMMAND", "SLOWLOG", "MULTI",
                             "EXEC", "DISCARD", "MEMORY", "LATENCY"}) {
    if (iequals(name, k)) return true;
  }
  return false;
}

std::string node_name(const cluster_node& n) { return n.host + ":" + std::to_string(n.port); }

// Redis did not run the command, and would on another try: a slot being migrated (a multi-key
// command or script whose keys are split between the two nodes) or a cluster without a primary
// for a slot (a failover under way).
bool try_again(const reply& r) {
  return r.type == reply::kind::error &&
         (r.str.starts_with("TRYAGAIN") || r.str.starts_with("CLUSTERDOWN"));
}

// Which commands are in a MULTI ... EXEC block (the block's ends included).
std::vector<bool> in_transaction(const std::vector<std::vector<std::string>>& commands) {
  std::vector<bool> out(commands.size(), false);
  bool open = false;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const auto& name = commands[i].empty() ? std::string() : commands[i][0];
    if (iequals(name, "MULTI")) open = true;
    out[i] = open;
    if (iequals(name, "EXEC") || iequals(name, "DISCARD")) open = false;
  }
  return out;
}

}  // namespace

const std::string* command_key(const std::vector<std::string>& argv) {
  if (argv.size() < 2 || keyless(argv[0])) return nullptr;
  if (iequals(argv[0], "EVAL") || iequals(argv[0], "EVALSHA") || iequals(argv[0], "FCALL")) {
    long numkeys = 0;
    const auto& n = argv.size() > 2 ? argv[2] : std::string();
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), numkeys);
    if (ec != std::errc() || p != n.data() + n.size() || numkeys <= 0 || argv.size() < 4) {
      return nullptr;
    }
    return &argv[3];
  }
  return &argv[1];
}

std::optional<std::uint16_t> command_slot(const std::vector<std::string>& argv) {
  const std::string* key = command_key(argv);
  if (key == nullptr) return std::nullopt;
  return key_slot(*key);
}

result<cluster_node> parse_node(std::string_view hp) {
  auto a = parse_host_port(hp, 0);  // a seed names its port: 0 is refused below
  if (!a) return std::unexpected(a.error());
  if (a->port == 0) return fail(error_kind::permanent, "redis url: a cluster node needs a port");
  return cluster_node{std::move(a->host), a->port};
}

result<std::vector<std::vector<std::string>>> decode_commands(std::string_view resp,
                                                              std::size_t count) {
  resp_reader in;
  in.feed(resp.data(), resp.size());
  std::vector<std::vector<std::string>> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto r = in.next();
    if (!r) return std::unexpected(r.error());
    if (!*r || (*r)->type != reply::kind::array) {
      return fail(error_kind::permanent, "redis cluster: a command is not a RESP array");
    }
    auto& argv = out.emplace_back();
    argv.reserve((*r)->elements.size());
    for (auto& e : (*r)->elements) argv.push_back(std::move(e.str));
  }
  return out;
}

// Everything below runs on the client's own thread.
struct cluster_client::state : std::enable_shared_from_this<cluster_client::state> {
  state(asio::io_context& io, options o, std::vector<cluster_node> s)
      : io(io), opts(std::move(o)), seeds(std::move(s)) {}

  asio::io_context& io;
  options opts;
  std::vector<cluster_node> seeds;
  std::optional<slot_map> map;
  std::chrono::steady_clock::time_point map_read_at{};
  std::map<std::string, std::unique_ptr<async_client>> clients;  // by host:port
  std::atomic<std::size_t> map_reads{0};
  // Bumps when a node's connection failed or the map was read again: see generation().
  std::atomic<std::uint64_t> generation{0};
  // A copy of `map` for node_of(), from other threads.
  mutable std::mutex shared_mu;
  std::shared_ptr<const slot_map> shared_map;

  async_client& client_for(const cluster_node& n) {
    auto& slot = clients[node_name(n)];
    if (!slot) {
      options o = opts;
      o.host = n.host;
      o.port = n.port;
      o.cluster_nodes.clear();  // one node's connection, not a cluster client again
      slot = std::make_unique<async_client>(o, io);
    }
    return *slot;
  }

  // The primary of `slot`, or of slot 0's range for a keyless command.
  std::optional<cluster_node> primary_for(std::optional<std::uint16_t> slot) const {
    if (!map) return std::nullopt;
    if (!slot) {
      if (map->ranges().empty()) return std::nullopt;
      return map->ranges().front().primary;
    }
    const cluster_node* n = map->primary_for(*slot);
    if (n == nullptr) return std::nullopt;
    return *n;
  }

  // CLUSTER SLOTS from the known primaries, then the seeds; false when none answered.
  asio::awaitable<bool> refresh() {
    std::vector<cluster_node> ask;
    if (map) {
      for (const auto& r : map->ranges()) ask.push_back(r.primary);
    }
    ask.insert(ask.end(), seeds.begin(), seeds.end());
    const std::vector<std::string> slots{"CLUSTER", "SLOTS"};
    for (const auto& n : ask) {
      auto r = co_await client_for(n).command(slots);
      if (!r) continue;
      auto m = slot_map::from_cluster_slots(*r);
      if (!m) continue;
      map = std::move(*m);
      {
        std::lock_guard lock(shared_mu);
        shared_map = std::make_shared<const slot_map>(*map);
      }
      map_read_at = std::chrono::steady_clock::now();
      ++map_reads;
      ++generation;
      co_return true;
    }
    co_return false;
  }

  asio::awaitable<void> pause(int hop) {
    asio::steady_timer t(io, 100ms * (hop + 1));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  // One command, following redirections: its reply (an error reply kept as kind::error).
  asio::awaitable<result<reply>> route(std::vector<std::string> argv,
                                       std::optional<std::uint16_t> slot) {
    if (!map) co_await refresh();
    std::optional<cluster_node> redirected;
    bool asking = false;
    for (int hop = 0; hop <= max_redirects; ++hop) {
      std::optional<cluster_node> node = redirected ? redirected : primary_for(slot);
      redirected.reset();
      if (!node) {  // no map yet, or a slot without a primary (a failover under way)
        co_await pause(hop);
        co_await refresh();
        continue;
      }
      std::vector<std::vector<std::string>> commands;
      if (asking) commands.push_back({"ASKING"});
      commands.push_back(argv);
      asking = false;
      auto r = co_await client_for(*node).pipeline(commands);
      if (!r) {  // the node is gone or unreachable: maybe a failover; read the map again
        ++generation;
        co_await pause(hop);
        co_await refresh();
        continue;
      }
      reply rep = std::move(r->back());
      if (auto to = parse_redirect(rep)) {
        redirected = to->target;
        if (redirected->host.empty()) redirected->host = node->host;
        asking = to->type == redirect::kind::ask;
        // MOVED: the map is stale; read it again, at most every 100 ms (a resharding moves
        // many slots), and send this command straight to the new owner meanwhile.
        if (!asking && std::chrono::steady_clock::now() - map_read_at > 100ms) {
          co_await refresh();
        }
        continue;
      }
      if (try_again(rep)) {
        co_await pause(hop);
        co_await refresh();
        continue;
      }
      co_return rep;
    }
    co_return fail(error_kind::transient, "redis cluster: no node took the command");
  }

  asio::awaitable<result<std::vector<reply>>> route_all(
      std::vector<std::vector<std::string>> commands) {
    if (!map) co_await refresh();
    // A keyless command (MULTI, EXEC, WAIT) goes with its neighbours: the slot of the keyed
    // command before it, else the one after.
    std::vector<std::optional<std::uint16_t>> slots;
    slots.reserve(commands.size());
    for (const auto& c : commands) slots.push_back(command_slot(c));
    const auto first = std::ranges::find_if(slots, [](const auto& s) { return s.has_value(); });
    std::optional<std::uint16_t> last = first == slots.end() ? std::nullopt : *first;
    for (auto& s : slots) {
      if (s) last = s;
      else s = last;
    }
    struct group {
      cluster_node node;
      std::vector<std::size_t> indexes;
      std::vector<std::vector<std::string>> commands;
      result<std::vector<reply>> replies = fail(error_kind::transient, "not sent");
    };
    std::vector<group> groups;
    std::vector<std::size_t> unrouted;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      auto n = primary_for(slots[i]);
      if (!n) {
        unrouted.push_back(i);
        continue;
      }
      auto g = std::ranges::find_if(groups, [&](const group& x) { return x.node == *n; });
      if (g == groups.end()) g = groups.insert(groups.end(), group{*n, {}, {}});
      g->indexes.push_back(i);
      g->commands.push_back(commands[i]);
    }
    // Every group's pipeline at once; the last to finish wakes this coroutine.
    std::size_t pending = groups.size();
    asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
    for (auto& g : groups) {
      asio::co_spawn(
          io,
          [&g, &pending, &all_done, this]() -> asio::awaitable<void> {
            g.replies = co_await client_for(g.node).pipeline(g.commands);
            if (!g.replies) ++generation;
            if (--pending == 0) all_done.cancel();
          },
          asio::detached);
    }
    if (pending > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));

    std::vector<std::optional<reply>> out(commands.size());
    const std::vector<bool> transaction = in_transaction(commands);
    for (auto& g : groups) {
      if (!g.replies) continue;  // routed again below, one by one
      for (std::size_t k = 0; k < g.indexes.size(); ++k) {
        const std::size_t i = g.indexes[k];
        reply& rep = (*g.replies)[k];
        // TRYAGAIN: again below, after a pause (route), as a redirect is. Not inside a MULTI
        // block, whose EXEC has failed then: its caller sends the whole block again.
        if (parse_redirect(rep) || (try_again(rep) && !transaction[i])) continue;
        out[i] = std::move(rep);
      }
    }
    // Redirected, told to try again, unrouted or on a failed connection: one by one, in order.
    // (A MULTI block split this way would lose its atomicity; our callers keep one in one slot,
    // so its commands are redirected together and never reach here apart.)
    for (std::size_t i = 0; i < commands.size(); ++i) {
      if (out[i]) continue;
      auto r = co_await route(commands[i], slots[i]);
      if (!r) co_return std::unexpected(r.error());
      out[i] = std::move(*r);
    }
    std::vector<reply> replies;
    replies.reserve(out.size());
    for (auto& r : out) replies.push_back(std::move(*r));
    co_return replies;
  }
};

cluster_client::cluster_client(options opts, std::vector<cluster_node> seeds)
    : io_(std::make_unique<discardable_io_context>(1)),
      state_(std::make_shared<state>(*io_, std::move(opts), std::move(seeds))) {
  thread_ = std::thread([io = io_.get()] {
    auto work = asio::make_work_guard(*io);
    io->run();
  });
}

namespace {

std::vector<cluster_node> seeds_of(const options& opts) {
  std::vector<cluster_node> seeds;
  for (const auto& hp : opts.cluster_nodes) {
    if (auto n = parse_node(hp)) seeds.push_back(std::move(*n));
  }
  return seeds;
}

}  // namespace

cluster_client::cluster_client(options opts) : cluster_client(opts, seeds_of(opts)) {}

cluster_client::~cluster_client() { stop(); }

void cluster_client::stop() {
  if (!thread_.joinable()) return;
  io_->stop();
  thread_.join();
  state_->clients.clear();  // bound to io_, which no longer runs: allowed (async_client.hpp)
  io_->discard_pending();   // what they and the routing still hold, completions included
}

asio::awaitable<result<reply>> cluster_client::command(std::vector<std::string> argv) {
  const auto slot = command_slot(argv);
  auto r = co_await asio::co_spawn(*io_, state_->route(std::move(argv), slot), asio::use_awaitable);
  if (!r) co_return r;
  if (r->type == reply::kind::error) co_return std::unexpected(error_of(*r));
  co_return r;
}

asio::awaitable<result<reply>> cluster_client::eval(const script& s, std::vector<std::string> keys,
                                                    std::vector<std::string> args) {
  // Owned strings: the call goes to the cluster client's thread.
  std::string key_count;
  const auto by_sha = s.call_argv(false, key_count, keys, args);
  std::vector<std::string> argv(by_sha.begin(), by_sha.end());
  auto r = co_await command(std::move(argv));
  if (r || !script::missing(r.error().message)) co_return r;
  const auto by_source = s.call_argv(true, key_count, keys, args);
  argv.assign(by_source.begin(), by_source.end());
  co_return co_await command(std::move(argv));
}

asio::awaitable<result<std::vector<reply>>> cluster_client::pipeline(
    std::vector<std::vector<std::string>> commands) {
  co_return co_await asio::co_spawn(*io_, state_->route_all(std::move(commands)),
                                    asio::use_awaitable);
}

void cluster_client::submit(std::string_view encoded, std::size_t count, batch_completion done) {
  auto commands = decode_commands(encoded, count);
  auto finish = [](batch_completion d, result<std::vector<reply>> r) {
    auto ex = asio::get_associated_executor(d);
    asio::dispatch(ex, [d = std::move(d), r = std::move(r)]() mutable { std::move(d)(std::move(r)); });
  };
  if (!commands) {
    finish(std::move(done), std::unexpected(commands.error()));
    return;
  }
  asio::co_spawn(*io_, state_->route_all(std::move(*commands)),
                 [finish, d = std::move(done)](std::exception_ptr e,
                                               result<std::vector<reply>> r) mutable {
                   if (e) r = fail(error_kind::transient, "redis cluster: routing failed");
                   finish(std::move(d), std::move(r));
                 });
}

result<std::vector<reply>> cluster_client::run(const command_list& commands) {
  if (commands.empty()) return std::vector<reply>{};
  auto decoded = decode_commands(commands.resp(), commands.size());
  if (!decoded) return std::unexpected(decoded.error());
  auto f = asio::co_spawn(*io_, state_->route_all(std::move(*decoded)), asio::use_future);
  return f.get();
}

std::size_t cluster_client::map_reads() const { return state_->map_reads.load(); }

std::uint64_t cluster_client::generation() const { return state_->generation.load(); }

std::string cluster_client::node_of(std::string_view key) const {
  std::shared_ptr<const slot_map> map;
  {
    std::lock_guard lock(state_->shared_mu);
    map = state_->shared_map;
  }
  const cluster_node* n = map ? map->primary_for(key_slot(key)) : nullptr;
  return n == nullptr ? std::string() : node_name(*n);
}

}  // namespace tresse::dispatcher::redis
