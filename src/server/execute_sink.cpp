#include "server/execute_sink.hpp"

namespace rbees::server {

void ExecuteSink::on_token(const engine::TokenEvent& event) {
  timing_.token();
  // The protocol's token events carry text only, and none without: a token that released no text
  // (held back for a stop string or a partial character) wakes nobody.
  if (event.text.empty()) return;
  engine::TokenEvent piece;
  piece.id = event.id;
  piece.text = event.text;
  channel_->push({0, std::move(piece)});
}

void ExecuteSink::on_finish(const engine::FinalResult& result) {
  timing_.finish(result);
  channel_->push({0, result});
  channel_->close();
}

}  // namespace rbees::server
