// Restart backoff: exponential with full-range jitter, reset after a stable run.
// GStreamer-free; the random source is injected so tests are deterministic.
#pragma once

#include <cstdint>
#include <functional>

namespace iptv::daemon {

struct BackoffPolicy {
  double initial_seconds = 0.5;
  double max_seconds = 30.0;
  double factor = 2.0;
  double jitter = 0.2;               // +-20% of the nominal delay
  double stable_after_seconds = 60;  // a run this long resets the attempt count
};

class Backoff {
 public:
  // `uniform` returns a number in [0, 1).
  explicit Backoff(BackoffPolicy p, std::function<double()> uniform = {});
  // The delay before the next restart, given how long the run that just ended lasted.
  double next_delay(double run_seconds);
  int attempt() const { return attempt_; }
  void reset() { attempt_ = 0; }

 private:
  BackoffPolicy p_;
  std::function<double()> uniform_;
  int attempt_ = 0;
};

}  // namespace iptv::daemon
