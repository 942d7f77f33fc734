// Runs the built rbees-workerd's `perplexity` subcommand: its printed figures against
// llama-perplexity's at the embedded model's training context (tests/data/perplexity/), and its
// refusals of input it cannot score.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/llama_perplexity_output.hpp"

extern char** environ;

namespace {

using rbees::testing::llama_perplexity_reference;
using rbees::testing::parse_perplexity_output;
using rbees::testing::relative_difference;

const std::string kText = std::string(RBEES_SHARED_DIR) + "/data/war-and-peace.txt";
const std::string kF16 = std::string(RBEES_SOURCE_DIR) + "/tests/data/wp-llama-5m-f16.gguf";

// A file of this test's own, removed at scope end (CTest runs tests in parallel).
class TempFile {
 public:
  TempFile() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rbees-perplexity-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct RunResult {
  int status = -1;  // exit code; -1 when the process did not exit normally (a crash)
  std::string out;
  std::string err;
};

// `rbees-workerd perplexity <args>` without a shell; stdout and stderr go to files of their own.
RunResult run_perplexity(const std::vector<std::string>& args) {
  TempFile out, err;
  // On the CPU, as the reference was computed.
  std::vector<std::string> all{RBEES_BINARY, "perplexity", "--device", "cpu", "--threads", "1"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.path().c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.path().c_str(), O_WRONLY | O_TRUNC, 0);
  RunResult r;
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) return r;
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out.path());
  r.err = read_file(err.path());
  return r;
}

// At the 256-token windows the model was trained on it has learnt the book: perplexity about 1.004.
TEST(PerplexityCommand, PrintsLlamaCppsFiguresAtTheTrainingContext) {
  if (!std::filesystem::exists(kText)) GTEST_SKIP() << "../shared/data/war-and-peace.txt is absent";
  const auto ref = llama_perplexity_reference("wp-llama-5m-f16.c256.fa-on.txt");
  const RunResult r = run_perplexity({"--model", kF16, "--file", kText, "--ctx-size", "256", "--chunks", "8"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto ours = parse_perplexity_output(r.out);
  ASSERT_EQ(ours.running.size(), ref.running.size()) << r.out;
  for (size_t i = 0; i < ref.running.size(); ++i) {
    EXPECT_LT(relative_difference(ours.running[i], ref.running[i]), 1e-3)
        << "window " << i + 1 << ": ours " << ours.running[i] << ", llama.cpp " << ref.running[i];
  }
  EXPECT_LT(relative_difference(ours.ppl, ref.ppl), 1e-3) << "ours " << ours.ppl << ", llama.cpp " << ref.ppl;
  EXPECT_GT(ours.ppl, 1.0);
  EXPECT_LT(ours.ppl, 1.01);
  EXPECT_EQ(r.err.find("Pierre"), std::string::npos) << "the text reached the log";
}

TEST(PerplexityCommand, RefusesInputItCannotScore) {
  RunResult r = run_perplexity({"--model", kF16, "--file", "/nonexistent/text.txt"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot open --file /nonexistent/text.txt"), std::string::npos) << r.err;

  TempFile short_text;
  std::ofstream(short_text.path()) << "Well, Prince, so Genoa and Lucca are now just family estates.\n";
  r = run_perplexity({"--model", kF16, "--file", short_text.path(), "--ctx-size", "256"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("needs at least 512"), std::string::npos) << r.err;

  r = run_perplexity({"--model", kF16, "--file", short_text.path(), "--ctx-size", "2048"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("exceeds the model's 1024"), std::string::npos) << r.err;

  r = run_perplexity({"--model", kF16, "--file", short_text.path(), "--chunks", "0"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--chunks"), std::string::npos) << r.err;

  r = run_perplexity({"--model", kF16});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--file"), std::string::npos) << r.err;
}

}  // namespace
