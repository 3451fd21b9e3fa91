#include "tresse/receiver/errc.hpp"

#include <gtest/gtest.h>

#include <system_error>
#include <type_traits>

namespace tresse::receiver {
namespace {

static_assert(std::is_error_code_enum<errc>::value);

TEST(ErrcTest, CategoryNameIsStable) { EXPECT_STREQ(category().name(), "tresse.receiver"); }

TEST(ErrcTest, NamesAreStable) {
  EXPECT_EQ(to_string(errc::missing_header), "missing_header");
  EXPECT_EQ(to_string(errc::invalid_timestamp), "invalid_timestamp");
  EXPECT_EQ(to_string(errc::timestamp_too_old), "timestamp_too_old");
  EXPECT_EQ(to_string(errc::timestamp_too_new), "timestamp_too_new");
  EXPECT_EQ(to_string(errc::no_matching_signature), "no_matching_signature");
  EXPECT_EQ(to_string(errc::invalid_secret), "invalid_secret");
  EXPECT_EQ(to_string(errc::replayed), "replayed");
}

TEST(ErrcTest, UnknownValueIsNamedUnknown) {
  EXPECT_EQ(to_string(static_cast<errc>(0)), "unknown");
  EXPECT_EQ(to_string(static_cast<errc>(99)), "unknown");
}

TEST(ErrcTest, ConvertsImplicitlyToErrorCode) {
  const std::error_code ec = errc::timestamp_too_old;
  EXPECT_EQ(&ec.category(), &category());
  EXPECT_EQ(ec.value(), static_cast<int>(errc::timestamp_too_old));
  EXPECT_EQ(ec, errc::timestamp_too_old);
  EXPECT_NE(ec, errc::timestamp_too_new);
  EXPECT_TRUE(static_cast<bool>(ec));
  EXPECT_EQ(make_error_code(errc::replayed), std::error_code(errc::replayed));
}

TEST(ErrcTest, EveryCodeHasAMessage) {
  for (int v = 1; v <= static_cast<int>(errc::replayed); ++v) {
    const std::string message = std::error_code(static_cast<errc>(v)).message();
    EXPECT_FALSE(message.empty()) << v;
    EXPECT_EQ(message.find("unknown"), std::string::npos) << v;
  }
}

}  // namespace
}  // namespace tresse::receiver
