// Serves the web console at /console/ on the management API's listener: the embedded files
// with their content types, a strict Content-Security-Policy (scripts, styles and API calls
// from this origin only, no inline code), and validators so a browser revalidates cheaply.
//
//   console::assets site({.frame_ancestors = "'none'"});       // api.console_frame_ancestors
//   if (console::assets::handles(req.target())) co_return site.serve(req);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/http_server.hpp"

namespace tresse::dispatcher::console {

struct assets_options {
  // The CSP frame-ancestors sources: who may embed the console in an iframe.
  std::string frame_ancestors = "'none'";
  // The operators' page (/console/ops/): served only with api.operator_token set, else 404
  // like its API.
  bool ops = false;
};

// nullopt when `sources` is a valid frame-ancestors source list ('none', 'self', schemes such
// as https:, hosts such as https://*.example.com), else why not. Nothing that could end the
// directive (';', ',', quotes other than the keywords) passes.
std::optional<std::string> check_frame_ancestors(std::string_view sources);

class assets {
 public:
  explicit assets(assets_options opts);

  // Whether a request target is the console's ("/console", "/console/…").
  static bool handles(std::string_view target);

  // GET/HEAD of a console path: 200 with the file, 304 when If-None-Match matches, 301 from
  // /console to /console/, 404 for an unknown file, 405 for other methods.
  tresse::http::response serve(const tresse::http::request& req) const;

 private:
  struct file {
    std::string_view bytes;
    std::string content_type;
    std::string etag;
  };
  std::map<std::string, file, std::less<>> files_;  // by URL path: "/console/app.js"
  std::string csp_;
};

}  // namespace tresse::dispatcher::console
