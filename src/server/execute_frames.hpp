#pragma once
// The worker protocol's SSE events for one /execute job: started, token..., then metrics and end,
// or error.

#include "server/reply_format.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace rbees::server {

class ExecuteFrames : public ReplyFormat {
 public:
  ExecuteFrames(std::string job_id, std::string model, std::chrono::system_clock::time_point started,
                uint64_t vram_bytes)
      : job_id_(std::move(job_id)), model_(std::move(model)), started_(started), vram_bytes_(vram_bytes) {}

  void add(std::span<const StreamEvent> events, std::string& out) override;

 private:
  void text(const std::string& text, std::string& out);
  void finish(const engine::FinalResult& result, std::string& out);

  std::string job_id_;
  std::string model_;
  std::chrono::system_clock::time_point started_;  // when the request was taken
  uint64_t vram_bytes_;
  bool opened_ = false;
  int64_t next_index_ = 0;
};

}  // namespace rbees::server
