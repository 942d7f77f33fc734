#include "server/deadline_sink.hpp"

namespace rbees::server {

void DeadlineSink::on_finish(const engine::FinalResult& result) {
  if (result.reason != engine::FinishReason::cancelled || result.failure || !channel_->timed_out()) {
    return inner_->on_finish(result);
  }
  engine::FinalResult timed_out = result;
  // Retriable: a timeout mostly means the request waited behind others; a less busy worker may
  // finish it.
  timed_out.failure =
      engine::Failure{engine::FailureKind::timeout,
                      "the request ran past its time limit (--request-timeout " + limit_text_ + ")", true};
  inner_->on_finish(timed_out);
}

bool deadline_passed(const Deadline& deadline, StreamChannel& channel) {
  if (!deadline || channel.timed_out() || channel.closed()) return false;
  if (std::chrono::steady_clock::now() < *deadline) return false;
  channel.mark_timed_out();
  return true;
}

}  // namespace rbees::server
