#pragma once
// Progress of long loads: a reporter that logs at 0/25/50/75/100 % and forwards every update to a
// callback, and a terminal bar that draws on stderr only when stderr is a terminal.

#include <cstddef>
#include <functional>
#include <string>

namespace rbees::loader {

class ProgressReporter {
 public:
  // Logs the event (e.g. "load_progress") at info each time a quarter is crossed.
  ProgressReporter(std::string event, std::string what, std::function<void(float)> callback);
  void update(std::size_t done, std::size_t total);
  void update(float fraction);

 private:
  std::string event_;
  std::string what_;
  std::function<void(float)> callback_;
  int next_quarter_ = 0;  // 0..4: the next of 0/25/50/75/100 % to log
};

class TerminalProgressBar {
 public:
  explicit TerminalProgressBar(std::string label);
  ~TerminalProgressBar();
  bool active() const { return active_; }
  void operator()(float fraction);  // redraws when the shown percentage changes
  void finish();                    // ends the line

 private:
  std::string label_;
  bool active_ = false;
  bool drawn_ = false;
  int last_percent_ = -1;
};

}  // namespace rbees::loader
