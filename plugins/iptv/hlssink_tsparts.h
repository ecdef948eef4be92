// iptvhlssink's low-latency parts over MPEG-TS, free of GStreamer.
//
// The muxer's output for one segment goes through a TsPartCutter, which cuts it into parts of at
// most the part target, each a run of whole 188-byte packets; the segment file is the parts end
// to end, byte for byte. The rules are the fMP4 path's (gstiptvhlssink.cpp fmp4_add_locked):
//   - A part ends just before a video access unit (a PES start with PUSI on the video PID, the
//     first PID whose PES stream_id is 0xE0-0xEF) that, lasting as long as the spacing before it,
//     would take the part past the target (+1 ms). Its duration is that access unit's DTS minus
//     the part's start (90 kHz, modulo 2^33), at most the target: after a gap in the source the
//     next part starts where the target ends, so the parts still add up to the segment.
//   - A part is independent when its first access unit is a random access point (the muxer sets
//     random_access_indicator on keyframes).
//   - PAT and PMT packets just before the cut go with the new part. An independent part that
//     does not start with both gets a copy of the latest PAT and PMT first, so a player joining
//     at that part finds the stream tables before the keyframe. The continuity counters of the
//     PAT and PMT PIDs are renumbered in output order, so the copies keep them continuous.
//   - finish() returns the rest of the segment as its last part (duration: up to the end of its
//     last access unit, one spacing after it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace iptv {

class TsPartCutter {
 public:
  static constexpr size_t kPacket = 188;
  static constexpr uint64_t kClock = 90000;

  struct Part {
    std::vector<uint8_t> bytes;  // whole TS packets
    uint64_t duration = 0;       // 90 kHz ticks
    bool independent = false;    // starts with a random access point (and PAT, PMT)
  };

  explicit TsPartCutter(double part_seconds) : target_((uint64_t)(part_seconds * kClock + 0.5)) {}

  // A new segment starts (the muxer restarted): the next bytes are its first part's.
  void begin_segment();
  // Muxer output, cut anywhere. Completed parts are appended to `out`.
  void feed(const uint8_t *data, size_t size, std::vector<Part> &out);
  // The segment ends: the rest as its last part (nullopt when nothing is left).
  std::optional<Part> finish();

  uint64_t target() const { return target_; }

 private:
  void packet(const uint8_t *p, std::vector<Part> &out);
  void emit(std::vector<uint8_t> bytes, uint64_t duration, bool independent,
            std::vector<Part> &out);
  void renumber_psi(std::vector<uint8_t> &bytes);

  uint64_t target_;
  std::vector<uint8_t> carry_;  // a packet split across feeds
  std::vector<uint8_t> cur_;    // the open part's bytes
  size_t psi_tail_ = SIZE_MAX;  // where the run of PAT/PMT packets ending cur_ starts
  bool tail_pat_ = false, tail_pmt_ = false;
  bool have_au_ = false;  // the open part holds a video access unit
  bool independent_ = false;
  uint64_t part_start_ = 0, last_dts_ = 0, spacing_ = 0;
  int video_pid_ = -1;
  int pmt_pid_ = -1;
  std::array<uint8_t, kPacket> pat_{}, pmt_{};
  bool have_pat_ = false, have_pmt_ = false;
  // Output continuity counters of the PAT and PMT PIDs (-1: take the first packet's own).
  int pat_cc_ = -1, pmt_cc_ = -1;
};

}  // namespace iptv
