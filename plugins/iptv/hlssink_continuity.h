// iptvhlssink's transport-stream continuity, free of GStreamer.
//
// splitmuxsink resets its mpegtsmux at every segment, so each segment's packets restart their
// 4-bit continuity_counter: a player reading consecutive segments as one stream (VLC, FFmpeg's
// TS demuxer) sees "TS discontinuity" on every PID at every boundary. This rewriter sits on the
// muxer's output and gives each PID (PAT, PMT, PCR/video, audio) one counter that keeps counting
// across segments:
//   - restart() marks a muxer restart (a new segment). The first packet of each PID after it
//     continues that PID's count: last + 1 when it carries a payload, last when it is
//     adaptation-only (ISO/IEC 13818-1 2.4.3.3: the counter does not advance without payload).
//   - Within one muxer run the counters keep the muxer's own steps (the same offset is added to
//     each), so a duplicate packet or a discontinuity the muxer marks stays as it is.
//   - Null packets (PID 0x1FFF) are left alone.
// Packets may straddle buffer boundaries (the state keeps the position inside the packet); bytes
// outside the 0x47 sync are skipped and counted, never rewritten.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace iptv {

class TsContinuity {
 public:
  static constexpr size_t kPacketSize = 188;

  // The muxer restarted: the next packet of each PID continues that PID's counter.
  void restart();

  // Rewrites the continuity counters of the packets in `data` in place. Buffers are consecutive
  // pieces of one stream, cut anywhere.
  void rewrite(uint8_t *data, size_t size);

  // Bytes skipped while looking for a sync byte (0 on well-formed muxer output).
  uint64_t skipped_bytes() const { return skipped_; }
  uint64_t packets() const { return packets_; }

 private:
  uint8_t rewrite_header(const uint8_t hdr[4]);

  struct Pid {
    bool seen = false;    // a packet of this PID was written
    bool mapped = false;  // offset is set for the current muxer run
    uint8_t offset = 0;
    uint8_t last_out = 0;
  };
  std::array<Pid, 8192> pids_{};
  uint8_t hdr_[4] = {};
  size_t pos_ = 0;  // position inside the current packet
  uint64_t skipped_ = 0, packets_ = 0;
};

}  // namespace iptv
