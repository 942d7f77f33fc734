#include "loader/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/log.hpp"

namespace rbees::loader {

ProgressReporter::ProgressReporter(std::string event, std::string what, std::function<void(float)> callback)
    : event_(std::move(event)), what_(std::move(what)), callback_(std::move(callback)) {}

void ProgressReporter::update(std::size_t done, std::size_t total) {
  update(total == 0 ? 1.0f : static_cast<float>(done) / static_cast<float>(total));
}

void ProgressReporter::update(float fraction) {
  fraction = std::clamp(fraction, 0.0f, 1.0f);
  while (next_quarter_ <= 4 && fraction * 4.0f >= static_cast<float>(next_quarter_)) {
    log::info(event_, what_, {{"percent", next_quarter_ * 25}});
    ++next_quarter_;
  }
  if (callback_) callback_(fraction);
}

TerminalProgressBar::TerminalProgressBar(std::string label) : label_(std::move(label)), active_(::isatty(2) == 1) {}

TerminalProgressBar::~TerminalProgressBar() {
  finish();
}

void TerminalProgressBar::operator()(float fraction) {
  if (!active_) return;
  int percent = static_cast<int>(std::clamp(fraction, 0.0f, 1.0f) * 100.0f);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 30;
  int filled = percent * kWidth / 100;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %3d%%", label_.c_str(), bar.c_str(), percent);
  std::fflush(stderr);
  drawn_ = true;
}

void TerminalProgressBar::finish() {
  if (active_ && drawn_) {
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  drawn_ = false;
  last_percent_ = -1;
}

}  // namespace rbees::loader
