// Runs the built rbees-workerd's `generate` subcommand and compares its stdout with the reference.
#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct RunResult {
  int status = -1;
  std::string out;
};

// argv without a shell, so prompts need no quoting; stderr (logs) is discarded.
RunResult run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string bin = RBEES_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  RunResult r;
  if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) return r;
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

nlohmann::json reference() {
  std::ifstream f(std::string(RBEES_SOURCE_DIR) + "/tests/data/wp-llama-5m.ref-given.json");
  return nlohmann::json::parse(f);
}

TEST(GenerateCommand, GreedyPrintsTheReferenceContinuationOnly) {
  const auto ref = reference();
  for (const auto& c : ref["cases"]) {
    const auto n = std::to_string(c["greedy_ids"].size());
    auto r = run({"generate", "--prompt", c["prompt"].get<std::string>(), "--temperature", "0", "--max-tokens", n,
                  "--threads", "1"});
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(r.out, c["greedy_text"].get<std::string>()) << c["prompt"];
  }
}

TEST(GenerateCommand, SeededSamplingRepeats) {
  const std::vector<std::string> args{"generate", "--prompt", "Natasha", "--temperature", "1.0", "--top-k",
                                      "40",       "--seed",   "7",       "--max-tokens",  "32",  "--threads",
                                      "1"};
  auto a = run(args);
  auto b = run(args);
  ASSERT_EQ(a.status, 0);
  EXPECT_FALSE(a.out.empty());
  EXPECT_EQ(a.out, b.out);
  auto other = args;
  other[8] = "8";
  EXPECT_NE(run(other).out, a.out);
}

TEST(GenerateCommand, StopStringIsNotPrinted) {
  const auto c = reference()["cases"][3];
  const std::string full = c["greedy_text"].get<std::string>();
  auto r = run({"generate", "--prompt", c["prompt"].get<std::string>(), "--temperature", "0", "--max-tokens", "48",
                "--stop", "Pierre", "--threads", "1"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, full.substr(0, full.find("Pierre")));
}

// --gpu-layers changes nothing on a CPU device, whatever its value; below -1 (all) it is refused.
TEST(GenerateCommand, GpuLayersIsIgnoredOnTheCpuAndNegativeCountsAreRefused) {
  const auto c = reference()["cases"][0];
  const std::string prompt = c["prompt"].get<std::string>();
  const std::string n_tokens = std::to_string(c["greedy_ids"].size());
  const std::vector<std::string> args{"generate", "--prompt",  prompt, "--temperature", "0",  "--max-tokens",
                                      n_tokens,   "--threads", "1",    "--device",      "cpu"};
  const auto plain = run(args);
  ASSERT_EQ(plain.status, 0);
  EXPECT_EQ(plain.out, c["greedy_text"].get<std::string>());
  for (const std::string n : {"-1", "0", "3", "999"}) {
    auto with = args;
    with.insert(with.end(), {"--gpu-layers", n});
    const auto r = run(with);
    EXPECT_EQ(r.status, 0) << n;
    EXPECT_EQ(r.out, plain.out) << n;
  }
  auto bad = args;
  bad.insert(bad.end(), {"--gpu-layers", "-2"});
  EXPECT_EQ(run(bad).status, 2);
}

TEST(GenerateCommand, ServeHelpListsGpuLayersWithItsDefault) {
  const auto r = run({"serve", "--help"});
  ASSERT_EQ(r.status, 0);
  const auto at = r.out.find("--gpu-layers");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_NE(line.find("=-1"), std::string::npos) << line;  // CLI11 shows the default after "="
}

TEST(GenerateCommand, ChatPromptRuns) {
  auto r = run({"generate", "--prompt", "Who is Pierre?", "--chat", "--temperature", "0", "--max-tokens", "16",
                "--threads", "1"});
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.out.empty());
}

}  // namespace
