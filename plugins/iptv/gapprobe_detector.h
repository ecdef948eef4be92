// Stream-health state machines behind iptvgapprobe, free of GStreamer so each is unit-tested on
// its own. Times are nanoseconds (int64). Every condition is reported once when it starts and
// once when it ends, never per buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iptv {

constexpr int64_t kNsPerSecond = 1000000000;

// A condition that must hold continuously for `hold` before it starts, and ends as soon as it
// stops holding. Counts occurrences and total time spent in the condition.
class HeldCondition {
 public:
  enum class Event { kNone, kStarted, kEnded };

  explicit HeldCondition(int64_t hold_ns = 0) : hold_(hold_ns) {}
  void set_hold(int64_t hold_ns) { hold_ = hold_ns; }

  // Feeds one observation at time `t`. On kStarted, `since()` is when the condition began
  // holding; on kEnded, `last_duration()` is how long it lasted (from since() to t).
  Event observe(bool holds, int64_t t);
  void reset();

  bool active() const { return active_; }
  int64_t since() const { return since_; }
  int64_t last_duration() const { return last_duration_; }
  uint64_t count() const { return count_; }
  int64_t total_ns(int64_t now) const { return total_ + (active_ ? now - since_ : 0); }

 private:
  int64_t hold_;
  bool holding_ = false;
  bool active_ = false;
  int64_t since_ = 0;
  int64_t last_duration_ = 0;
  uint64_t count_ = 0;
  int64_t total_ = 0;
};

// No-data watchdog on the wall (pipeline) clock. on_buffer() and check() may be called from
// different threads; the caller serialises them.
class GapTracker {
 public:
  explicit GapTracker(int64_t threshold_ns = 2 * kNsPerSecond) : threshold_(threshold_ns) {}
  void set_threshold(int64_t ns) { threshold_ = ns; }
  void start(int64_t now);  // arms the watchdog as if a buffer arrived now

  // A buffer arrived at `now`. Returns the total outage when this ends a gap.
  std::optional<int64_t> on_buffer(int64_t now);
  // The watchdog woke at `now`. Returns the gap so far when a gap starts now.
  std::optional<int64_t> check(int64_t now);
  // When the watchdog should next wake (nullopt while a gap is active: the next buffer ends it).
  std::optional<int64_t> deadline() const;

  bool in_gap() const { return in_gap_; }
  int64_t current_gap(int64_t now) const { return armed_ ? now - last_ : 0; }
  int64_t max_gap() const { return max_gap_; }
  int64_t last_arrival() const { return last_; }
  uint64_t count() const { return count_; }
  int64_t total_ns(int64_t now) const { return total_ + (in_gap_ ? now - last_ : 0); }

 private:
  int64_t threshold_;
  bool armed_ = false;
  bool in_gap_ = false;
  int64_t last_ = 0;
  int64_t max_gap_ = 0;
  uint64_t count_ = 0;
  int64_t total_ = 0;
};

// Keyframe spacing on encoded video, in stream (running) time.
class KeyframeTracker {
 public:
  explicit KeyframeTracker(int64_t threshold_ns = 12 * kNsPerSecond)
      : cond_(0), threshold_(threshold_ns) {}
  void set_threshold(int64_t ns) { threshold_ = ns; }

  // One buffer at stream time `t`. Returns kStarted when no keyframe came for longer than the
  // threshold, kEnded on the keyframe that ends it.
  HeldCondition::Event on_buffer(int64_t t, bool keyframe);
  const HeldCondition &condition() const { return cond_; }
  // Forgets the keyframes (a flush). Returns kEnded, at the last buffer's time, when a keyframe
  // gap was active: its end is reported, never dropped.
  int64_t last_interval() const { return last_interval_; }
  int64_t max_interval() const { return max_interval_; }
  int64_t since_keyframe(int64_t t) const { return have_key_ ? t - last_key_ : 0; }
  HeldCondition::Event reset();

 private:
  HeldCondition cond_;
  int64_t threshold_;
  bool have_key_ = false;
  int64_t last_key_ = 0;
  int64_t last_t_ = 0;
  int64_t last_interval_ = 0;
  int64_t max_interval_ = 0;
};

// Timestamp sanity: backwards, jumps, missing timestamps, drift from real time.
//
// Drift is (clock running time - buffer running time) at arrival, against a reference taken at
// the start of the stream. A buffer can reach the probe late (a slow start-up, a busy thread)
// but never before its own running time plus the pipeline's latency, so during the first
// drift-threshold of wall time the reference is the lowest value seen, not the first: the first
// buffers of a live input often arrive late all at once (a demuxer holds them while its source
// pads are linked and started), and measured from the first of them every later punctual buffer
// looked like a stream running ahead of the clock by that delay, a drift that never ended.
class TimestampChecker {
 public:
  enum class Kind { kBackwards, kJump, kMissing, kDrift };
  struct Issue {
    Kind kind;
    bool active;       // conditions (missing, drift) start and end; events are active=true only
    int64_t amount;    // backwards/jump: the step; drift: the drift; missing: buffers missing
    int64_t duration;  // on the end of a condition
  };
  static const char *name(Kind k);

  void set_jump_threshold(int64_t ns) { jump_ = ns; }
  void set_drift_threshold(int64_t ns) { drift_ = ns; }

  // One buffer: `ts` is its DTS when it has one, else its PTS (-1 = none); `duration` -1 when
  // unknown; `running` is the buffer's running time (-1 = none); `wall_running` the clock's
  // running time when it arrived (-1 when not live: drift is only checked on live streams).
  std::vector<Issue> on_buffer(int64_t ts, int64_t duration, int64_t running, int64_t wall_running);
  // Forgets the stream (a new segment, a flush): the checks start afresh. Returns the ends of the
  // conditions still active (missing, drift) at `wall_running` (-1: the last clock time seen), so
  // that whoever tracks them clears them: dropped silently, they stayed raised forever.
  std::vector<Issue> reset(int64_t wall_running = -1);
  uint64_t count(Kind k) const { return counts_[static_cast<int>(k)]; }
  int64_t drift() const { return last_drift_; }

 private:
  int64_t jump_ = kNsPerSecond;
  int64_t drift_ = 2 * kNsPerSecond;
  bool have_prev_ = false;
  int64_t prev_ts_ = 0;
  int64_t prev_end_ = -1;
  bool missing_active_ = false;
  int64_t missing_count_ = 0;
  int64_t missing_since_ = 0;
  bool have_offset_ = false;
  int64_t offset_ = 0;      // the reference: the lowest wall_running - running while settling
  int64_t first_wall_ = 0;  // wall_running at the first live buffer
  bool drift_active_ = false;
  int64_t drift_since_ = 0;
  int64_t last_drift_ = 0;
  int64_t last_wall_ = 0;
  uint64_t counts_[4] = {0, 0, 0, 0};
};

// Content measures, computed cheaply on a subsampled picture or on audio samples.
// Mean luma of 8-bit samples taken every `step` pixels and rows, as a fraction of full scale.
double mean_luma(const uint8_t *plane, int width, int height, int stride, int pixel_stride,
                 int step);
// Fills `grid` with a gw x gh copy of the plane, each cell the mean of its area (at most about
// 8 x 8 samples per cell). A mean, not a point sample: motion anywhere in a cell (a small object
// moving, bars scrolling by a few pixels) changes the cell, where a point sample could miss it.
void sample_grid(const uint8_t *plane, int width, int height, int stride, int pixel_stride, int gw,
                 int gh, std::vector<uint8_t> &grid);
// Mean absolute difference between two grids, 0..255.
double grid_difference(const std::vector<uint8_t> &a, const std::vector<uint8_t> &b);
// Largest absolute difference of one cell between two grids, 0..255: local motion.
int grid_max_difference(const std::vector<uint8_t> &a, const std::vector<uint8_t> &b);
// RMS level in dBFS of interleaved samples (-200 for digital silence).
double rms_db_s16(const int16_t *s, size_t n);
double rms_db_f32(const float *s, size_t n);
double rms_db_s32(const int32_t *s, size_t n);

}  // namespace iptv
