#pragma once
// One /execute job's sink, on the engine's event thread: records the token timings and hands each event
// to the job's channel (ExecuteFrames writes them as the worker protocol's SSE events).

#include "engine/engine.hpp"
#include "server/request_timing.hpp"
#include "server/stream_channel.hpp"

#include <memory>

namespace rbees::server {

class ExecuteSink : public engine::Sink {
 public:
  ExecuteSink(std::shared_ptr<StreamChannel> channel, std::shared_ptr<WorkerMetrics> metrics)
      : channel_(std::move(channel)), timing_(std::move(metrics)) {}

  void on_token(const engine::TokenEvent& event) override;
  void on_finish(const engine::FinalResult& result) override;
  bool client_gone() const override { return channel_->client_gone(); }

 private:
  std::shared_ptr<StreamChannel> channel_;
  RequestTiming timing_;
};

}  // namespace rbees::server
