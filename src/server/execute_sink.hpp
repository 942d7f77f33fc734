#pragma once
// Turns one /execute job's engine output into the worker protocol's SSE events.

#include "engine/engine.hpp"
#include "server/request_timing.hpp"
#include "server/stream_channel.hpp"

#include <memory>

namespace rbees::server {

class ExecuteSink : public engine::Sink {
 public:
  ExecuteSink(std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics, uint64_t vram_bytes)
      : channel_(std::move(channel)), timing_(std::move(metrics)), vram_bytes_(vram_bytes) {}

  void on_token(const engine::TokenEvent& event) override;
  void on_finish(const engine::FinalResult& result) override;
  bool client_gone() const override { return channel_->client_gone(); }

 private:
  void emit_text(const std::string& text);

  std::shared_ptr<StreamChannel> channel_;
  RequestTiming timing_;
  uint64_t vram_bytes_;
  int64_t next_index_ = 0;
};

}  // namespace rbees::server
