// Where iptvhlssink cuts segments and how it numbers them, free of GStreamer.
//
// Segments start on keyframes. A new segment starts at the first keyframe whose anchor time
// (UTC in sequence-mode=epoch, running time in counter mode) falls in a later multiple of the
// target duration than the current segment's start, or at once after a discontinuity. In epoch
// mode the first segment after a start takes the number floor(UTC / target) (never less than
// the next number a previous run left), so a restart never goes backwards and two redundant
// encoders of one channel agree on names and numbers; later segments count up by one.
#pragma once

#include <cstdint>
#include <optional>

namespace iptv {

class Segmenter {
 public:
  Segmenter(double target_seconds, bool epoch)
      : target_ns_((int64_t)(target_seconds * 1e9)), epoch_(epoch) {}

  // A previous run (restored playlist or state file) left `next_sequence`; the first segment of
  // this run is marked discontinuous.
  void resume(uint64_t next_sequence) {
    next_ = next_sequence;
    resumed_ = true;
  }

  struct Start {
    uint64_t sequence;
    bool discontinuity;
  };
  // A keyframe at anchor time `anchor_ns`. Returns when a segment starts here. `discontinuity`
  // forces a cut (caps change, timestamp jump, source switch) and marks it.
  std::optional<Start> on_keyframe(int64_t anchor_ns, bool discontinuity);

  bool started() const { return started_; }
  uint64_t next_sequence() const { return next_; }

 private:
  int64_t index_of(int64_t t) const {
    return t >= 0 ? t / target_ns_ : -((-t + target_ns_ - 1) / target_ns_);
  }
  int64_t target_ns_;
  bool epoch_;
  bool started_ = false;
  bool resumed_ = false;
  uint64_t next_ = 0;
  int64_t index_ = 0;
};

}  // namespace iptv
