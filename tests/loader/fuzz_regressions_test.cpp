// Inputs found by the fuzz targets (fuzz/) that once crashed a loader; each must now be refused with
// a LoadError naming the file.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "loader/file_mapping.hpp"
#include "loader/gguf_loader.hpp"
#include "loader/hf_config.hpp"
#include "loader/load_error.hpp"
#include "loader/safetensors.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

// A safetensors file: the 8-byte length, `header`, then `data_bytes` zero bytes.
std::vector<char> safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::vector<char> out(8);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string safetensors_error(const std::vector<char>& bytes) {
  test::TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  test::write_bytes(path, bytes);
  try {
    FileMapping file(path.string());
    read_safetensors(file);
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}

// nlohmann::json reports a number beyond double's range as out_of_range, not parse_error; it escaped
// the loader and terminated the process (safetensors_fuzz, crash-a73dd976).
TEST(LoaderFuzzRegressions, SafetensorsNumberOutOfRange) {
  const auto bytes = safetensors_bytes(R"({"x": {"dtype": "I32", "shape": [1], "data_offsets": [0, 1e30816]}})", 4);
  EXPECT_NE(safetensors_error(bytes).find("not valid JSON"), std::string::npos);
}

TEST(LoaderFuzzRegressions, SafetensorsSameHeaderWithValidNumberLoads) {
  test::TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  test::write_bytes(path, safetensors_bytes(R"({"x": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", 4));
  FileMapping file(path.string());
  const auto entries = read_safetensors(file);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].nbytes, 4u);
}

// The same for config.json (hf_config_fuzz).
TEST(LoaderFuzzRegressions, ConfigNumberOutOfRange) {
  test::TempDir dir;
  const auto path = dir.path() / "config.json";
  const std::string text = R"({"model_type": "llama", "hidden_size": 1e400})";
  test::write_bytes(path, std::vector<char>(text.begin(), text.end()));
  try {
    read_hf_config(dir.path());
    ADD_FAILURE() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

// A GGUF whose block_count runs into the millions: the list of expected tensors was built before
// any was looked up, 2.6 GB for this 13.6 kB file (gguf_fuzz, oom-8a3025c1).
TEST(LoaderFuzzRegressions, GgufLayerCountBeyondTheTensorsIsRefusedUpFront) {
  const std::string path = std::string(RBEES_SOURCE_DIR) + "/tests/data/fuzz/gguf-oom-layer-count.gguf";
  try {
    load_gguf_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const LoadError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("the metadata says"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace rbees::loader
