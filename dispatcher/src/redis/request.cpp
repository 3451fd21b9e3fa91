#include "redis/request.hpp"

namespace tresse::dispatcher::redis {

status first_error(const std::vector<reply>& rs) {
  for (const auto& r : rs) {
    if (r.type == reply::kind::error) return std::unexpected(error_of(r));
  }
  return {};
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

replies run(client& c, const request& r) {
  if (r.lua) return one_reply(c.eval(*r.lua, r.keys, r.args));
  return c.pipeline(r.commands);
}

boost::asio::awaitable<replies> run(async_client& c, const request& r) {
  if (r.lua) {
    result<reply> got = co_await c.eval(*r.lua, r.keys, r.args);
    co_return one_reply(std::move(got));
  }
  co_return co_await c.pipeline(r.commands);
}

}  // namespace tresse::dispatcher::redis
