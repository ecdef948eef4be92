#include "cmaf/fragmenter.h"

#include <limits>

namespace iptv::cmaf {

bool TrackFragmenter::add(uint64_t dts, int64_t composition_offset, bool sync,
                          std::span<const uint8_t> data, std::string *error) {
  if (have_last_ && dts < last_dts_) {
    if (error)
      *error =
          "decode time " + std::to_string(dts) + " goes back from " + std::to_string(last_dts_);
    return false;
  }
  if (composition_offset < std::numeric_limits<int32_t>::min() ||
      composition_offset > std::numeric_limits<int32_t>::max() || data.size() > 0xFFFFFFFFu) {
    if (error) *error = "composition offset or sample size out of range";
    return false;
  }
  if (!samples_.empty()) {
    uint64_t d = dts - last_dts_;
    if (d > 0xFFFFFFFFu) {
      if (error) *error = "sample duration " + std::to_string(d) + " does not fit 32 bits";
      return false;
    }
    samples_.back().duration = static_cast<uint32_t>(d);
  } else {
    first_dts_ = dts;
  }
  samples_.push_back({0, static_cast<uint32_t>(data.size()),
                      sync ? kSyncSampleFlags : kNonSyncSampleFlags,
                      static_cast<int32_t>(composition_offset)});
  payload_.insert(payload_.end(), data.begin(), data.end());
  last_dts_ = dts;
  have_last_ = true;
  return true;
}

std::optional<Bytes> TrackFragmenter::cut(uint64_t end_dts, std::string *error) {
  if (samples_.empty() || end_dts <= last_dts_ || end_dts - last_dts_ > 0xFFFFFFFFu) {
    if (error)
      *error = samples_.empty()
                   ? "cut with no samples queued"
                   : "cut at " + std::to_string(end_dts) + " is not after the last sample at " +
                         std::to_string(last_dts_);
    return std::nullopt;
  }
  return write(static_cast<uint32_t>(end_dts - last_dts_), error);
}

std::optional<Bytes> TrackFragmenter::finish(uint32_t fallback_duration, std::string *error) {
  if (samples_.empty()) {
    if (error) *error = "finish with no samples queued";
    return std::nullopt;
  }
  uint32_t d = samples_.size() > 1 ? samples_[samples_.size() - 2].duration : fallback_duration;
  return write(d == 0 ? 1 : d, error);
}

std::optional<Bytes> TrackFragmenter::write(uint32_t last_duration, std::string *error) {
  samples_.back().duration = last_duration;
  auto seg = write_media_segment(sequence_, track_id_, first_dts_, samples_, payload_, error);
  if (!seg) return std::nullopt;
  sequence_++;
  written_end_ = last_dts_ + last_duration;
  samples_.clear();
  payload_.clear();
  return seg;
}

}  // namespace iptv::cmaf
