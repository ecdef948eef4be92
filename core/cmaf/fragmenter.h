// One track's samples into CMAF media segments with a continuous timeline: each sample's
// duration is the next sample's decode time minus its own, so a segment is written when the
// decode time of the sample after it is known (the cut), and the next segment's tfdt is exactly
// the previous tfdt plus the previous segment's durations. Free of GStreamer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "cmaf/boxes.h"

namespace iptv::cmaf {

class TrackFragmenter {
 public:
  explicit TrackFragmenter(uint32_t track_id) : track_id_(track_id) {}

  // Queues a sample. `dts` is the decode time in the track timescale; it must not go back
  // (returns false with a reason when it does, and when cts - dts does not fit 32 bits).
  bool add(uint64_t dts, int64_t composition_offset, bool sync, std::span<const uint8_t> data,
           std::string *error);

  // Writes the queued samples as one media segment (moof + mdat) that ends at `end_dts` (the
  // decode time of the first sample of the next segment). Fails when nothing is queued or
  // end_dts is not after the last sample.
  std::optional<Bytes> cut(uint64_t end_dts, std::string *error);
  // At the end of the stream: the last sample lasts as long as the one before it (or
  // `fallback_duration` when it is alone).
  std::optional<Bytes> finish(uint32_t fallback_duration, std::string *error);

  // After a discontinuity (nothing queued): the next sample may start anywhere on the timeline.
  void reset_timeline() {
    if (samples_.empty()) have_last_ = false;
  }
  // Where the last written segment ends (its tfdt plus its durations).
  uint64_t written_end() const { return written_end_; }

  bool empty() const { return samples_.empty(); }
  uint64_t first_dts() const { return first_dts_; }
  uint64_t last_dts() const { return last_dts_; }
  // Decode time queued so far (from the first queued sample to the last one's start).
  uint64_t queued_duration() const { return samples_.empty() ? 0 : last_dts_ - first_dts_; }
  size_t queued_bytes() const { return payload_.size(); }
  // mfhd sequence numbers: 1, 2, ... unless set (a restart continues them).
  void set_next_sequence_number(uint32_t n) { sequence_ = n; }
  uint32_t next_sequence_number() const { return sequence_; }

 private:
  std::optional<Bytes> write(uint32_t last_duration, std::string *error);
  uint32_t track_id_;
  uint32_t sequence_ = 1;
  std::vector<Sample> samples_;
  Bytes payload_;
  uint64_t first_dts_ = 0, last_dts_ = 0, written_end_ = 0;
  bool have_last_ = false;
};

}  // namespace iptv::cmaf
