#include "redis/request.hpp"

#include "redis/cluster_client.hpp"

namespace tresse::dispatcher::redis {

status first_error(const std::vector<reply>& rs) {
  for (const auto& r : rs) {
    if (r.type == reply::kind::error) return std::unexpected(error_of(r));
  }
  return {};
}

status status_of(const replies& r) {
  if (!r) return std::unexpected(r.error());
  return first_error(*r);
}

request single_command(std::vector<std::string> argv) {
  request r;
  r.commands.add(argv);
  return r;
}

result<reply> single_reply(replies r) {
  if (!r) return std::unexpected(r.error());
  if (r->size() != 1) return fail(error_kind::transient, "redis: unexpected number of replies");
  reply& one = r->front();
  if (one.type == reply::kind::error) return std::unexpected(error_of(one));
  return std::move(one);
}

namespace {

replies one_reply(result<reply> r) {
  if (!r) return std::unexpected(r.error());
  std::vector<reply> out;
  out.push_back(std::move(*r));
  return out;
}

}  // namespace

std::string routing_key(const request& r) {
  if (r.lua) return r.keys.empty() ? std::string() : r.keys.front();
  auto commands = decode_commands(r.commands.resp(), r.commands.size());
  if (!commands) return {};
  // The last command with a key: a WAIT at the end of the pipeline goes with it.
  for (auto it = commands->rbegin(); it != commands->rend(); ++it) {
    if (const std::string* key = command_key(*it)) return *key;
  }
  return {};
}

replies run(client& c, const request& r) {
  if (r.lua) return one_reply(c.eval(*r.lua, r.keys, r.args));
  return c.pipeline(r.commands);
}

namespace {

// r's script call as one command: EVALSHA sha1, or EVAL source (which also loads it).
command_list script_call(const request& r, bool by_source) {
  std::string key_count;
  command_list call;
  call.add(r.lua->call_argv(by_source, key_count, r.keys, r.args));
  return call;
}

}  // namespace

boost::asio::awaitable<replies> run_then(async_client& c, const request& r,
                                         const command_list& tail) {
  command_list all = r.lua ? script_call(r, false) : r.commands;
  all.append(tail);
  replies got = co_await c.pipeline(all);
  if (r.lua && got && got->front().type == reply::kind::error &&
      script::missing(got->front().str)) {
    all = script_call(r, true);
    all.append(tail);
    got = co_await c.pipeline(all);
  }
  co_return got;
}

boost::asio::awaitable<replies> run(async_client& c, const request& r) {
  if (r.lua) {
    result<reply> got = co_await c.eval(*r.lua, r.keys, r.args);
    co_return one_reply(std::move(got));
  }
  co_return co_await c.pipeline(r.commands);
}

}  // namespace tresse::dispatcher::redis
