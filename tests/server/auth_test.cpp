#include "server/auth.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace rbees::server {
namespace {

TEST(Auth, ConstantTimeEquals) {
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secret", "secreT"));
  EXPECT_FALSE(constant_time_equals("Secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secret", "secret2"));
  EXPECT_FALSE(constant_time_equals("secret", ""));
  EXPECT_FALSE(constant_time_equals(std::string_view("a\0", 2), "a"));  // padding never matches a shorter key
}

TEST(Auth, BearerHeader) {
  ApiKeyCheck check(std::string("k-123"));
  EXPECT_TRUE(check.enabled());
  EXPECT_TRUE(check.allows("Bearer k-123"));
  EXPECT_TRUE(check.allows("bearer k-123"));
  EXPECT_FALSE(check.allows("Bearer k-124"));
  EXPECT_FALSE(check.allows("Bearer k-123 "));
  EXPECT_FALSE(check.allows("Basic k-123"));
  EXPECT_FALSE(check.allows("k-123"));
  EXPECT_FALSE(check.allows(""));
}

TEST(Auth, NoKeyAllowsEverything) {
  ApiKeyCheck open;
  EXPECT_FALSE(open.enabled());
  EXPECT_TRUE(open.allows(""));
  EXPECT_TRUE(open.allows("Bearer anything"));
}

TEST(Auth, KeyFileIsTrimmed) {
  const auto path = std::filesystem::temp_directory_path() / ("rbees-key-" + std::to_string(::getpid()));
  { std::ofstream(path) << "s3cr3t\r\n"; }
  EXPECT_EQ(read_api_key_file(path.string()), "s3cr3t");
  { std::ofstream(path) << "\n"; }
  EXPECT_THROW(read_api_key_file(path.string()), std::runtime_error);
  std::filesystem::remove(path);
  EXPECT_THROW(read_api_key_file(path.string()), std::runtime_error);
}

}  // namespace
}  // namespace rbees::server
