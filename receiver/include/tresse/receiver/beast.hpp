// Verifying a Boost.Beast request. Header-only and not part of the compiled library, so that
// tresse::receiver itself never needs Boost; include it where Beast is already in use.
//
//   #include "tresse/receiver/beast.hpp"
//
//   boost::beast::http::request<boost::beast::http::string_body> req;
//   ... read req ...
//   tresse::receiver::verification result = tresse::receiver::verify(verifier, req);
//   if (result.code() == tresse::receiver::errc::replayed) { /* a duplicate: answer 200 */ }
//   else if (!result) { /* answer 401 with result.message */ }
//
// Beast matches field names case-insensitively. The body must be contiguous and expose
// data()/size() (string_body, vector_body<char>, span_body<char>); when a header field is
// repeated, the first one counts.
#pragma once

#include <boost/beast/http/message.hpp>
#include <string_view>

#include "tresse/receiver/sign.hpp"  // header names
#include "tresse/receiver/verify.hpp"

namespace tresse::receiver {

// Returns the same result as verifier::verify for the request's webhook headers and body.
template <class Body, class Fields>
verification verify(const verifier& v, const boost::beast::http::request<Body, Fields>& req) {
  const auto field = [&req](std::string_view name) {
    const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    return it == req.end() ? std::string_view()
                           : std::string_view(it->value().data(), it->value().size());
  };
  const auto& body = req.body();
  return v.verify(field(header_id), field(header_timestamp), field(header_signature),
                  std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
}

}  // namespace tresse::receiver
