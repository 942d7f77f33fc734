#include "loader/progress.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

#include "core/log.hpp"
#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

std::vector<int> logged_percents(const std::string& log, const std::string& event) {
  std::vector<int> out;
  std::regex re(event + R"(:.* percent=(\d+))");
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) out.push_back(std::stoi((*it)[1]));
  return out;
}

void expect_progress(const std::string& path) {
  std::vector<float> seen;
  LoadOptions options;
  options.on_progress = [&](float f) { seen.push_back(f); };
  log::configure(log::Level::info, log::Format::text);
  ::testing::internal::CaptureStderr();
  load_model_source(path, options);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(logged_percents(err, "load_progress"), (std::vector<int>{0, 25, 50, 75, 100})) << err;
  ASSERT_GE(seen.size(), 5u);
  EXPECT_EQ(seen.front(), 0.0f);
  EXPECT_EQ(seen.back(), 1.0f);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
}

TEST(Progress, HuggingFaceLoadReportsQuartersAndCallsBack) {
  expect_progress(test::default_model_dir().string());
}

TEST(Progress, GgufLoadReportsQuartersAndCallsBack) {
  expect_progress(test::q8_gguf().string());
}

TEST(Progress, ReporterLogsEachQuarterOnceHoweverItIsDriven) {
  std::vector<float> seen;
  ProgressReporter reporter("upload_progress", "uploading", [&](float f) { seen.push_back(f); });
  log::configure(log::Level::info, log::Format::text);
  ::testing::internal::CaptureStderr();
  reporter.update(0, 3);
  reporter.update(1, 3);  // 33 %: crosses 25 only
  reporter.update(1, 3);
  reporter.update(0.9f);  // crosses 50 and 75 at once
  reporter.update(3, 3);
  reporter.update(3, 3);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(logged_percents(err, "upload_progress"), (std::vector<int>{0, 25, 50, 75, 100})) << err;
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_FLOAT_EQ(seen[1], 1.0f / 3.0f);
}

TEST(Progress, TerminalBarStaysSilentWhenStderrIsNotATerminal) {
  ::testing::internal::CaptureStderr();  // stderr becomes a file
  TerminalProgressBar bar("loading");
  EXPECT_FALSE(bar.active());
  bar(0.5f);
  bar.finish();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace rbees::loader
