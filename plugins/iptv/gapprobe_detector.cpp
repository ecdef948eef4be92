#include "gapprobe_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace iptv {

// ---- HeldCondition ----

HeldCondition::Event HeldCondition::observe(bool holds, int64_t t) {
  if (holds) {
    if (!holding_) {
      holding_ = true;
      since_ = t;
    }
    if (!active_ && t - since_ >= hold_) {
      active_ = true;
      ++count_;
      return Event::kStarted;
    }
    return Event::kNone;
  }
  holding_ = false;
  if (active_) {
    active_ = false;
    last_duration_ = t - since_;
    total_ += last_duration_;
    return Event::kEnded;
  }
  return Event::kNone;
}

void HeldCondition::reset() {
  holding_ = active_ = false;
  since_ = last_duration_ = 0;
}

// ---- GapTracker ----

void GapTracker::start(int64_t now) {
  armed_ = true;
  in_gap_ = false;
  last_ = now;
}

std::optional<int64_t> GapTracker::on_buffer(int64_t now) {
  std::optional<int64_t> ended;
  if (armed_) {
    int64_t gap = now - last_;
    max_gap_ = std::max(max_gap_, gap);
    if (in_gap_) {
      in_gap_ = false;
      total_ += gap;
      ended = gap;
    }
  }
  armed_ = true;
  last_ = now;
  return ended;
}

std::optional<int64_t> GapTracker::check(int64_t now) {
  if (!armed_ || in_gap_) return std::nullopt;
  int64_t gap = now - last_;
  if (gap < threshold_) return std::nullopt;
  in_gap_ = true;
  ++count_;
  max_gap_ = std::max(max_gap_, gap);
  return gap;
}

std::optional<int64_t> GapTracker::deadline() const {
  if (!armed_ || in_gap_) return std::nullopt;
  return last_ + threshold_;
}

// ---- KeyframeTracker ----

HeldCondition::Event KeyframeTracker::on_buffer(int64_t t, bool keyframe) {
  last_t_ = t;
  if (keyframe) {
    if (have_key_) {
      last_interval_ = t - last_key_;
      max_interval_ = std::max(max_interval_, last_interval_);
    }
    have_key_ = true;
    last_key_ = t;
    return cond_.observe(false, t);
  }
  if (!have_key_) {
    // Measure from the first buffer: a stream that never has a keyframe is also a gap.
    have_key_ = true;
    last_key_ = t;
  }
  bool over = t - last_key_ > threshold_;
  if (over && !cond_.active()) {
    HeldCondition::Event e = cond_.observe(true, last_key_);
    if (e == HeldCondition::Event::kNone) e = cond_.observe(true, t);
    return e;
  }
  return HeldCondition::Event::kNone;
}

HeldCondition::Event KeyframeTracker::reset() {
  have_key_ = false;
  if (cond_.active()) return cond_.observe(false, last_t_);  // ends it (its duration kept)
  cond_.reset();
  return HeldCondition::Event::kNone;
}

// ---- TimestampChecker ----

const char *TimestampChecker::name(Kind k) {
  switch (k) {
    case Kind::kBackwards:
      return "backwards";
    case Kind::kJump:
      return "jump";
    case Kind::kMissing:
      return "missing";
    case Kind::kDrift:
      return "drift";
  }
  return "?";
}

std::vector<TimestampChecker::Issue> TimestampChecker::on_buffer(int64_t ts, int64_t duration,
                                                                 int64_t running,
                                                                 int64_t wall_running) {
  std::vector<Issue> out;
  if (ts < 0) {
    if (!missing_active_) {
      missing_active_ = true;
      missing_since_ = wall_running >= 0 ? wall_running : last_wall_;
      missing_count_ = 0;
      counts_[static_cast<int>(Kind::kMissing)]++;
      out.push_back({Kind::kMissing, true, 1, 0});
    }
    missing_count_++;
    return out;
  }
  if (missing_active_) {
    missing_active_ = false;
    int64_t now = wall_running >= 0 ? wall_running : last_wall_;
    out.push_back({Kind::kMissing, false, missing_count_, now - missing_since_});
  }
  if (have_prev_) {
    if (ts < prev_ts_) {
      counts_[static_cast<int>(Kind::kBackwards)]++;
      out.push_back({Kind::kBackwards, true, prev_ts_ - ts, 0});
    } else {
      int64_t expected = prev_end_ >= 0 ? prev_end_ : prev_ts_;
      int64_t step = ts - expected;
      if (step > jump_) {
        counts_[static_cast<int>(Kind::kJump)]++;
        out.push_back({Kind::kJump, true, step, 0});
      }
    }
  }
  have_prev_ = true;
  prev_ts_ = ts;
  prev_end_ = duration >= 0 ? ts + duration : -1;

  if (wall_running >= 0 && running >= 0) {
    last_wall_ = wall_running;
    int64_t offset = wall_running - running;
    if (!have_offset_) {
      have_offset_ = true;
      offset_ = offset;
      first_wall_ = wall_running;
    } else if (offset < offset_ && wall_running - first_wall_ < drift_) {
      offset_ = offset;  // settling: this buffer came sooner after its time than the first
    }
    last_drift_ = (wall_running - running) - offset_;
    bool over = std::llabs(last_drift_) > drift_;
    if (over && !drift_active_) {
      drift_active_ = true;
      drift_since_ = wall_running;
      counts_[static_cast<int>(Kind::kDrift)]++;
      out.push_back({Kind::kDrift, true, last_drift_, 0});
    } else if (!over && drift_active_ && std::llabs(last_drift_) < drift_ / 2) {
      drift_active_ = false;
      out.push_back({Kind::kDrift, false, last_drift_, wall_running - drift_since_});
    }
  }
  return out;
}

std::vector<TimestampChecker::Issue> TimestampChecker::reset(int64_t wall_running) {
  std::vector<Issue> out;
  int64_t now = wall_running >= 0 ? wall_running : last_wall_;
  if (missing_active_) out.push_back({Kind::kMissing, false, missing_count_, now - missing_since_});
  if (drift_active_) out.push_back({Kind::kDrift, false, last_drift_, now - drift_since_});
  have_prev_ = false;
  prev_end_ = -1;
  missing_active_ = false;
  have_offset_ = false;
  drift_active_ = false;
  return out;
}

// ---- content measures ----

double mean_luma(const uint8_t *plane, int width, int height, int stride, int pixel_stride,
                 int step) {
  if (width <= 0 || height <= 0) return 0;
  uint64_t sum = 0, n = 0;
  for (int y = 0; y < height; y += step) {
    const uint8_t *row = plane + static_cast<size_t>(y) * stride;
    for (int x = 0; x < width; x += step) {
      sum += row[static_cast<size_t>(x) * pixel_stride];
      ++n;
    }
  }
  return n ? static_cast<double>(sum) / n / 255.0 : 0;
}

void sample_grid(const uint8_t *plane, int width, int height, int stride, int pixel_stride, int gw,
                 int gh, std::vector<uint8_t> &grid) {
  grid.resize(static_cast<size_t>(gw) * gh);
  for (int j = 0; j < gh; ++j) {
    int y0 = static_cast<int>(static_cast<int64_t>(j) * height / gh);
    int y1 = std::max(y0 + 1, static_cast<int>(static_cast<int64_t>(j + 1) * height / gh));
    int ystep = std::max(1, (y1 - y0) / 8);  // at most about 8 x 8 samples per cell
    for (int i = 0; i < gw; ++i) {
      int x0 = static_cast<int>(static_cast<int64_t>(i) * width / gw);
      int x1 = std::max(x0 + 1, static_cast<int>(static_cast<int64_t>(i + 1) * width / gw));
      int xstep = std::max(1, (x1 - x0) / 8);
      uint64_t sum = 0, n = 0;
      for (int y = std::min(y0, height - 1); y < std::min(y1, height); y += ystep) {
        const uint8_t *row = plane + static_cast<size_t>(y) * stride;
        for (int x = std::min(x0, width - 1); x < std::min(x1, width); x += xstep, ++n)
          sum += row[static_cast<size_t>(x) * pixel_stride];
      }
      grid[static_cast<size_t>(j) * gw + i] = static_cast<uint8_t>(n ? (sum + n / 2) / n : 0);
    }
  }
}

double grid_difference(const std::vector<uint8_t> &a, const std::vector<uint8_t> &b) {
  if (a.size() != b.size() || a.empty()) return 255.0;
  uint64_t sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<uint64_t>(std::abs(a[i] - b[i]));
  return static_cast<double>(sum) / a.size();
}

int grid_max_difference(const std::vector<uint8_t> &a, const std::vector<uint8_t> &b) {
  if (a.size() != b.size() || a.empty()) return 255;
  int most = 0;
  for (size_t i = 0; i < a.size(); ++i) most = std::max(most, std::abs(a[i] - b[i]));
  return most;
}

namespace {
double to_db(double mean_square) {
  return mean_square <= 1e-20 ? -200.0 : 10.0 * std::log10(mean_square);
}
}  // namespace

double rms_db_s16(const int16_t *s, size_t n) {
  double acc = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = s[i] / 32768.0;
    acc += v * v;
  }
  return to_db(n ? acc / n : 0);
}

double rms_db_f32(const float *s, size_t n) {
  double acc = 0;
  for (size_t i = 0; i < n; ++i) acc += static_cast<double>(s[i]) * s[i];
  return to_db(n ? acc / n : 0);
}

double rms_db_s32(const int32_t *s, size_t n) {
  double acc = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = s[i] / 2147483648.0;
    acc += v * v;
  }
  return to_db(n ? acc / n : 0);
}

}  // namespace iptv
