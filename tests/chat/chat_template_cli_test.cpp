// `rbees-workerd chat-template` end to end: the default model's Llama-3-style template, the same model
// as GGUF, template errors and the pinned date.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ChatTemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rbees-chat-cli-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result run(const std::string& args, const std::string& stdin_text) {
    const fs::path in = dir_ / "stdin.json", out = dir_ / "stdout.bin", err = dir_ / "stderr.txt";
    std::ofstream(in, std::ios::binary) << stdin_text;
    const std::string cmd = std::string("'") + RBEES_BINARY + "' chat-template --log-level error " + args + " < '" +
                            in.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  }

  fs::path make_model(const std::string& tmpl) {
    const fs::path model = dir_ / "model";
    fs::create_directories(model);
    std::ofstream(model / "chat_template.jinja", std::ios::binary) << tmpl;
    std::ofstream(model / "tokenizer_config.json") << R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>"})";
    return model;
  }

  fs::path dir_;
};

const std::string kConversation = R"([{"role": "user", "content": "  Who was Pierre Bezukhov? \n"},)"
                                  R"( {"role": "assistant", "content": "The illegitimate son of a count."}])";

// The default model's template: "{{ bos_token }}" then per message
// "<|start_header_id|>ROLE<|end_header_id|>\n\n" + content|trim + "<|eot_id|>", then the assistant header.
std::string expected_llama3(bool generation_prompt) {
  std::string s = "<|begin_of_text|>";
  s += "<|start_header_id|>user<|end_header_id|>\n\nWho was Pierre Bezukhov?<|eot_id|>";
  s += "<|start_header_id|>assistant<|end_header_id|>\n\nThe illegitimate son of a count.<|eot_id|>";
  if (generation_prompt) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return s;
}

TEST_F(ChatTemplateCli, DefaultModelTwoMessages) {
  const Result r = run("", kConversation);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected_llama3(true));
}

TEST_F(ChatTemplateCli, NoGenerationPrompt) {
  const Result r = run("--no-generation-prompt", kConversation);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected_llama3(false));
}

TEST_F(ChatTemplateCli, ExplicitHuggingFaceDirectory) {
  const Result r = run(std::string("--model '") + RBEES_SOURCE_DIR + "/models/wp-llama-5m'", kConversation);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected_llama3(true));
}

TEST_F(ChatTemplateCli, GgufFileGivesTheSameText) {
  // The GGUF carries the template in its metadata and BOS/EOS as vocabulary entries.
  const Result r =
      run(std::string("--model '") + RBEES_SOURCE_DIR + "/tests/data/wp-llama-5m-f16.gguf'", kConversation);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected_llama3(true));
}

TEST_F(ChatTemplateCli, RaiseExceptionExitsWithTheMessage) {
  const fs::path model = make_model(
      "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok");
  const Result r = run("--model '" + model.string() + "'", R"([{"role": "system", "content": "x"}])");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
}

TEST_F(ChatTemplateCli, PinnedDateAndTokensFromTokenizerConfig) {
  const fs::path model =
      make_model("{{ bos_token }}{{ strftime_now('%d %b %Y') }}|{{ messages | length }}{{ eos_token }}\n");
  const Result r = run("--model '" + model.string() + "' --date 2026-11-22", R"([{"role": "user", "content": "x"}])");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<s>22 Nov 2026|1</s>");  // jinja2 drops the template's single trailing newline
}

TEST_F(ChatTemplateCli, RejectsInputThatIsNotAnArray) {
  const Result r = run("", R"({"role": "user"})");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
}

}  // namespace
