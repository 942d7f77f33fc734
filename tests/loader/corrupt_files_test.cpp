// Damaged weight files, made from the real ones by byte surgery, are each rejected with a message
// that names the file (and the tensor, where one is at fault).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "loader/load.hpp"
#include "loader/test_paths.hpp"

namespace rbees::loader {
namespace {

using nlohmann::ordered_json;

// A copy of the default model's directory whose model.safetensors the test rewrites.
class SafetensorsSurgery : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"config.json", "generation_config.json"})
      std::filesystem::copy_file(test::default_model_dir() / f, dir_.path() / f);
    bytes_ = test::read_bytes(test::default_model_dir() / "model.safetensors");
    std::memcpy(&header_len_, bytes_.data(), 8);
    header_ = ordered_json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + static_cast<long>(header_len_));
    data_.assign(bytes_.begin() + 8 + static_cast<long>(header_len_), bytes_.end());
  }

  std::string file() const { return (dir_.path() / "model.safetensors").string(); }

  // Writes the (edited) header in front of the data.
  void write(const ordered_json& header) {
    std::string h = header.dump();
    std::vector<char> out(8);
    uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), data_.begin(), data_.end());
    test::write_bytes(file(), out);
  }
  void write_raw(const std::vector<char>& bytes) { test::write_bytes(file(), bytes); }

  // The load's error message; fails the test if the load succeeds.
  std::string load_error() {
    try {
      load_model_source(dir_.path().string());
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find(file()), std::string::npos)
          << "message does not name the file: " << e.what();
      return e.what();
    }
    ADD_FAILURE() << "damaged file was accepted";
    return "";
  }

  test::TempDir dir_;
  std::vector<char> bytes_;
  uint64_t header_len_ = 0;
  ordered_json header_;
  std::vector<char> data_;
};

TEST_F(SafetensorsSurgery, UntouchedCopyLoads) {
  write(header_);
  EXPECT_NO_THROW(load_model_source(dir_.path().string()));
}

TEST_F(SafetensorsSurgery, CutInTheHeader) {
  write_raw(std::vector<char>(bytes_.begin(), bytes_.begin() + 8 + static_cast<long>(header_len_ / 2)));
  EXPECT_NE(load_error().find("header length"), std::string::npos);
}

TEST_F(SafetensorsSurgery, CutInTheData) {
  write_raw(std::vector<char>(bytes_.begin(), bytes_.end() - 1000));
  std::string err = load_error();
  EXPECT_NE(err.find("tensor '"), std::string::npos) << err;
  EXPECT_NE(err.find("past the end"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, AbsurdHeaderLength) {
  std::vector<char> b = bytes_;
  uint64_t huge = 1ull << 40;
  std::memcpy(b.data(), &huge, 8);
  write_raw(b);
  EXPECT_NE(load_error().find("limit"), std::string::npos);
}

TEST_F(SafetensorsSurgery, HeaderNotJson) {
  std::vector<char> b = bytes_;
  b[8] = '[';
  b[9] = '?';
  write_raw(b);
  EXPECT_NE(load_error().find("JSON"), std::string::npos);
}

TEST_F(SafetensorsSurgery, OffsetsOutOfTheFile) {
  const std::string victim = "model.layers.2.mlp.up_proj.weight";
  auto& off = header_[victim]["data_offsets"];
  off[0] = off[0].get<uint64_t>() + data_.size();
  off[1] = off[1].get<uint64_t>() + data_.size();
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
  EXPECT_NE(err.find("past the end"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, OverlappingRanges) {
  // Two tensors of one size: point the second at the first's bytes.
  header_["model.layers.3.self_attn.q_proj.weight"]["data_offsets"] =
      header_["model.layers.1.self_attn.q_proj.weight"]["data_offsets"];
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find("overlaps"), std::string::npos) << err;
  EXPECT_NE(err.find("self_attn.q_proj.weight"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, ShapeDisagreesWithTheConfig) {
  // Same element count, so only the check against config.json can catch it.
  const std::string victim = "model.layers.4.mlp.gate_proj.weight";
  ASSERT_EQ(header_[victim]["shape"], ordered_json::parse("[704, 256]"));
  header_[victim]["shape"] = {256, 704};
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
  EXPECT_NE(err.find("expected [256, 704]"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, DtypeSizeDisagreesWithTheByteRange) {
  const std::string victim = "model.layers.0.self_attn.v_proj.weight";
  header_[victim]["dtype"] = "F32";  // the range holds bf16 data: half the bytes F32 would need
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
  EXPECT_NE(err.find("bytes"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, MissingTensor) {
  header_.erase("model.layers.5.mlp.down_proj.weight");
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find("blk.5.ffn_down.weight"), std::string::npos) << err;
}

TEST_F(SafetensorsSurgery, UnsupportedDtype) {
  const std::string victim = "model.norm.weight";
  header_[victim]["dtype"] = "I16";  // same element size, so only the dtype check catches it
  write(header_);
  std::string err = load_error();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
  EXPECT_NE(err.find("I16"), std::string::npos) << err;
}

class GgufSurgery : public ::testing::Test {
 protected:
  void SetUp() override { bytes_ = test::read_bytes(test::f16_gguf()); }
  std::string file() const { return (dir_.path() / "model.gguf").string(); }
  std::string load_error(const std::vector<char>& bytes) {
    test::write_bytes(file(), bytes);
    try {
      load_model_source(file());
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find(file()), std::string::npos)
          << "message does not name the file: " << e.what();
      return e.what();
    }
    ADD_FAILURE() << "damaged file was accepted";
    return "";
  }

  test::TempDir dir_;
  std::vector<char> bytes_;
};

TEST_F(GgufSurgery, TruncatedInTheHeader) {
  std::string err = load_error(std::vector<char>(bytes_.begin(), bytes_.begin() + 200));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST_F(GgufSurgery, TruncatedInTheData) {
  std::string err = load_error(std::vector<char>(bytes_.begin(), bytes_.end() - 4096));
  EXPECT_NE(err.find("tensor '"), std::string::npos) << err;
  EXPECT_NE(err.find("past the end"), std::string::npos) << err;
}

// Byte position of a tensor's data offset field in the tensor-info section: the name (u64 length +
// bytes), n_dims (u32), ne (u64 each), type (u32), then the offset (u64).
std::size_t offset_field(const std::vector<char>& bytes, const std::string& name) {
  std::string needle(8, '\0');
  uint64_t len = name.size();
  std::memcpy(needle.data(), &len, 8);
  needle += name;
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << name;
  std::size_t pos = static_cast<std::size_t>(it - bytes.begin()) + needle.size();
  uint32_t n_dims = 0;
  std::memcpy(&n_dims, bytes.data() + pos, 4);
  return pos + 4 + 8 * n_dims + 4;
}

TEST_F(GgufSurgery, OverlappingTensorData) {
  std::vector<char> b = bytes_;
  // attn_k and attn_v of a layer have one size: point attn_v at attn_k's bytes.
  std::memcpy(b.data() + offset_field(b, "blk.0.attn_v.weight"), b.data() + offset_field(b, "blk.0.attn_k.weight"), 8);
  std::string err = load_error(b);
  EXPECT_NE(err.find("blk.0.attn_v.weight"), std::string::npos) << err;
}

TEST_F(GgufSurgery, OffsetOutOfTheFile) {
  std::vector<char> b = bytes_;
  uint64_t far = uint64_t{1} << 40;
  std::memcpy(b.data() + offset_field(b, "blk.3.ffn_up.weight"), &far, 8);
  std::string err = load_error(b);
  EXPECT_NE(err.find("blk.3.ffn_up.weight"), std::string::npos) << err;
}

TEST_F(GgufSurgery, BadMagic) {
  std::vector<char> b = bytes_;
  b[3] = 'X';
  std::string err = load_error(b);
  EXPECT_NE(err.find("magic"), std::string::npos) << err;
}

}  // namespace
}  // namespace rbees::loader
