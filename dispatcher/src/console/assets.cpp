#include "console/assets.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <stdexcept>

#include "api/keys.hpp"
#include "console/embedded_files.hpp"

namespace tresse::dispatcher::console {
namespace {

namespace http = ::tresse::http;
using field = boost::beast::http::field;
using status = boost::beast::http::status;
using verb = boost::beast::http::verb;

constexpr std::string_view prefix = "/console/";

std::string content_type_of(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

bool source_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == ':' || c == '/' || c == '*' || c == '-' || c == '_' || c == '[' ||
         c == ']';
}

http::response plain(status s, std::string_view text) {
  http::response res{s, 11};
  res.set(field::content_type, "text/plain; charset=utf-8");
  res.set(field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = text;
  return res;
}

}  // namespace

std::optional<std::string> check_frame_ancestors(std::string_view sources) {
  bool any = false;
  bool none = false;
  while (!sources.empty()) {
    auto space = sources.find(' ');
    std::string_view s = sources.substr(0, space);
    sources = space == std::string_view::npos ? "" : sources.substr(space + 1);
    if (s.empty()) continue;
    if (s == "'none'") {
      none = true;
    } else if (s != "'self'") {
      for (char c : s) {
        if (!source_char(c)) {
          return "'" + std::string(s) +
                 "' is not a frame-ancestors source: use 'none', 'self', a scheme (https:) or "
                 "an origin (https://dashboard.example.com, https://*.example.com), separated "
                 "by spaces";
        }
      }
    }
    if (any && none) return "'none' cannot be combined with other sources";
    any = true;
  }
  if (!any) return "give at least one source ('none' forbids every embedding)";
  return std::nullopt;
}

assets::assets(assets_options opts) {
  if (auto why = check_frame_ancestors(opts.frame_ancestors)) {
    throw std::invalid_argument("api.console_frame_ancestors: " + *why);  // start-up only
  }
  // No inline script or style anywhere, so none is allowed; the API is this same origin.
  csp_ =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors " +
      opts.frame_ancestors;
  for (const auto& f : embedded_files()) {
    if (!opts.ops && f.path.starts_with("ops/")) continue;
    file entry{f.bytes, content_type_of(f.path), "\"" + api::key_hash(f.bytes).substr(0, 32) + "\""};
    std::string url = std::string(prefix) + std::string(f.path);
    if (url.ends_with("/index.html")) files_.emplace(url.substr(0, url.size() - 10), entry);
    files_.emplace(std::move(url), std::move(entry));
  }
}

bool assets::handles(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/console" || path.starts_with(prefix);
}

http::response assets::serve(const http::request& req) const {
  if (req.method() != verb::get && req.method() != verb::head) {
    auto res = plain(status::method_not_allowed, "the console accepts GET and HEAD\n");
    res.set(field::allow, "GET, HEAD");
    return res;
  }
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/console") {
    auto res = plain(status::moved_permanently, "moved to /console/\n");
    res.set(field::location, prefix);
    return res;
  }
  auto it = files_.find(path);
  if (it == files_.end()) return plain(status::not_found, "no such console page\n");
  const file& f = it->second;
  http::response res{status::ok, 11};
  res.set("Content-Security-Policy", csp_);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  // Revalidated on every load (the names carry no version), answered 304 while unchanged.
  res.set(field::cache_control, "no-cache");
  res.set(field::etag, f.etag);
  if (req[field::if_none_match] == f.etag) {
    res.result(status::not_modified);
    return res;
  }
  res.set(field::content_type, f.content_type);
  res.body() = f.bytes;
  return res;
}

}  // namespace tresse::dispatcher::console
