#include "console/assets.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <stdexcept>
#include <string>

#include "console/embedded_files.hpp"

namespace tresse::dispatcher::console {
namespace {

namespace http = ::tresse::http;
using verb = boost::beast::http::verb;

http::response get(const assets& site, std::string target, std::string if_none_match = "") {
  http::request req{verb::get, target, 11};
  if (!if_none_match.empty()) req.set(boost::beast::http::field::if_none_match, if_none_match);
  return site.serve(req);
}

TEST(FrameAncestorsTest, AcceptsSourceListsAndRefusesWhatCouldEndTheDirective) {
  EXPECT_FALSE(check_frame_ancestors("'none'"));
  EXPECT_FALSE(check_frame_ancestors("'self'"));
  EXPECT_FALSE(check_frame_ancestors("'self' https://dash.example.com https://*.example.org:8443"));
  EXPECT_FALSE(check_frame_ancestors("https:"));
  EXPECT_TRUE(check_frame_ancestors(""));
  EXPECT_TRUE(check_frame_ancestors("'none' 'self'"));
  EXPECT_TRUE(check_frame_ancestors("https://a.com; script-src *"));
  EXPECT_TRUE(check_frame_ancestors("https://a.com,https://b.com"));
  EXPECT_TRUE(check_frame_ancestors("'unsafe-inline'"));
  EXPECT_TRUE(check_frame_ancestors("https://a.com\r\nSet-Cookie: x"));
  EXPECT_THROW(assets({.frame_ancestors = "a;b"}), std::invalid_argument);
}

TEST(ConsoleAssetsTest, TheOperatorsPageIsServedOnlyWhenOn) {
  assets off({}), on({.ops = true});
  EXPECT_EQ(get(off, "/console/ops/").result_int(), 404u);
  EXPECT_EQ(get(off, "/console/ops/ops.js").result_int(), 404u);
  EXPECT_EQ(get(off, "/console/").result_int(), 200u);
  EXPECT_EQ(get(on, "/console/ops/").result_int(), 200u);
  EXPECT_EQ(get(on, "/console/ops/ops.js").result_int(), 200u);
}

TEST(ConsoleAssetsTest, EveryEmbeddedFileIsServedWithItsTypeAndTheStrictPolicy) {
  assets site({.frame_ancestors = "https://dash.example.com", .ops = true});
  ASSERT_FALSE(embedded_files().empty());
  for (const auto& f : embedded_files()) {
    auto res = get(site, "/console/" + std::string(f.path));
    SCOPED_TRACE(f.path);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), f.bytes);
    std::string csp(res["Content-Security-Policy"]);
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_TRUE(csp.ends_with("frame-ancestors https://dash.example.com")) << csp;
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(res[boost::beast::http::field::cache_control], "no-cache");
    std::string type(res[boost::beast::http::field::content_type]);
    if (f.path.ends_with(".js")) EXPECT_EQ(type, "text/javascript; charset=utf-8");
    if (f.path.ends_with(".css")) EXPECT_EQ(type, "text/css; charset=utf-8");
    if (f.path.ends_with(".html")) EXPECT_EQ(type, "text/html; charset=utf-8");
  }
}

TEST(ConsoleAssetsTest, NoFileHasInlineScriptOrStyle) {
  // The policy forbids them; one would be a page that silently does not work.
  const std::regex inline_script(R"(<script(?![^>]*\bsrc=)[^>]*>)");
  const std::regex handler(R"(<[^>]+\son[a-z]+\s*=)", std::regex::icase);
  for (const auto& f : embedded_files()) {
    if (!f.path.ends_with(".html")) continue;
    std::string text(f.bytes);
    EXPECT_FALSE(std::regex_search(text, inline_script)) << f.path;
    EXPECT_FALSE(std::regex_search(text, handler)) << f.path;
    EXPECT_EQ(text.find("<style"), std::string::npos) << f.path;
    EXPECT_EQ(text.find(" style="), std::string::npos) << f.path;
  }
}

TEST(ConsoleAssetsTest, RevalidatesRedirectsAndRefuses) {
  assets site({});
  auto first = get(site, "/console/");
  ASSERT_EQ(first.result_int(), 200u);
  EXPECT_NE(first.body().find("/console/app.js"), std::string::npos);
  EXPECT_TRUE(std::string(first["Content-Security-Policy"]).ends_with("frame-ancestors 'none'"));
  std::string etag(first[boost::beast::http::field::etag]);
  ASSERT_FALSE(etag.empty());
  auto again = get(site, "/console/?x=1", etag);
  EXPECT_EQ(again.result_int(), 304u);
  EXPECT_TRUE(again.body().empty());
  EXPECT_EQ(get(site, "/console/", "\"other\"").result_int(), 200u);

  auto moved = get(site, "/console");
  EXPECT_EQ(moved.result_int(), 301u);
  EXPECT_EQ(moved[boost::beast::http::field::location], "/console/");
  EXPECT_EQ(get(site, "/console/nothing.js").result_int(), 404u);
  EXPECT_EQ(get(site, "/console/../main.cpp").result_int(), 404u);
  http::request post{verb::post, "/console/", 11};
  auto refused = site.serve(post);
  EXPECT_EQ(refused.result_int(), 405u);
  EXPECT_EQ(refused[boost::beast::http::field::allow], "GET, HEAD");

  EXPECT_TRUE(assets::handles("/console"));
  EXPECT_TRUE(assets::handles("/console/app.js?v=1"));
  EXPECT_FALSE(assets::handles("/consoles"));
  EXPECT_FALSE(assets::handles("/v1/webhooks"));
}

}  // namespace
}  // namespace tresse::dispatcher::console
