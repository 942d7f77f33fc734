#pragma once
// A read-only memory map of a whole file. Tensor views point into it in place, so it lives as long as
// the ModelSource that holds it.

#include <cstddef>
#include <cstdint>
#include <string>

#include "loader/model_source.hpp"

namespace rbees::loader {

class FileMapping : public Mapping {
 public:
  explicit FileMapping(const std::string& path);  // throws LoadError
  ~FileMapping() override;
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  const uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Asks the kernel to read the file ahead; weights are about to be copied to the device.
  void advise_willneed() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace rbees::loader
