// An endpoint's own request header fields: its `headers` and the Authorization of its `auth`
// (registry/endpoint_options.hpp), rendered to wire form once per change of either, so that an
// attempt only appends the bytes (http::header_fields::append). One per endpoint lane, on its
// shard thread.
#pragma once

#include "http/client.hpp"
#include "registry/endpoint.hpp"

namespace tresse::dispatcher {

class endpoint_headers {
 public:
  // The fields for `ep` as it is now; re-rendered only when its headers or auth changed.
  const http::header_fields& of(const registry::endpoint& ep);

 private:
  registry::header_list headers_;
  registry::endpoint_auth auth_;
  http::header_fields rendered_;
  bool ready_ = false;
};

}  // namespace tresse::dispatcher
