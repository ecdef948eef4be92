#include "daemon/backoff.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace iptv::daemon {

Backoff::Backoff(BackoffPolicy p, std::function<double()> uniform)
    : p_(p), uniform_(std::move(uniform)) {
  if (!uniform_) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
}

double Backoff::next_delay(double run_seconds) {
  if (run_seconds >= p_.stable_after_seconds) attempt_ = 0;
  double nominal = std::min(p_.max_seconds, p_.initial_seconds * std::pow(p_.factor, attempt_));
  ++attempt_;
  double j = (uniform_() * 2.0 - 1.0) * p_.jitter;
  return std::max(0.0, nominal * (1.0 + j));
}

}  // namespace iptv::daemon
