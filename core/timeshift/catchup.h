// Catch-up and time-shift playlists from archived segments (GStreamer-free, SQLite-free): the
// caller looks the segments up (orchestrator/lib/archive) and this cuts and renders them.
//
// - A closed range [start, end) gives a VOD playlist with EXT-X-ENDLIST; an open range (end 0)
//   gives an EVENT playlist that grows until the live edge.
// - Cuts fall on segment boundaries, and every segment starts with a keyframe (the packager cuts
//   there), so the first segment is the one holding `start` and the last the one holding the
//   instant before `end`: start and end land within one segment of what was asked.
// - Every segment carries EXT-X-PROGRAM-DATE-TIME; a gap in time (a lost input, a restart) or a
//   new discontinuity sequence starts an EXT-X-DISCONTINUITY.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace iptv::timeshift {

struct ArchivedSegment {
  int64_t start_ms = 0;     // PDT of the segment's first frame, unix ms
  int64_t duration_ms = 0;  // EXTINF
  int64_t discontinuity_sequence = 0;
  std::string map_uri;  // fMP4 init segment, relative to the playlist; "" for TS
  uint64_t bytes = 0;
  std::string key_id;  // AES-128: the key that encrypts it ("" clear)
  std::string key;     // its EXT-X-KEY attributes (hls::Segment::key), "" clear
};

struct CatchupRequest {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // 0: open (EVENT, live from a past point)
  // The segment URI relative to the playlist, e.g. "archive/1796668159000.ts".
  std::function<std::string(const ArchivedSegment &)> uri_for;
  double target_seconds = 2;
  int64_t gap_tolerance_ms = 500;  // a hole larger than this between segments is a discontinuity
  // A closed range whose end has not been recorded yet (end after the newest segment's end): an
  // EVENT playlist cut at `end`, without ENDLIST until the range is complete.
  bool end_pending = false;
};

struct CatchupPlaylist {
  std::string text;  // the rendered playlist; empty when no segment overlaps the range
  size_t segments = 0;
  int64_t first_start_ms = 0, last_end_ms = 0;
};

// The segments whose span overlaps [start, end) (or [start, ∞) when end is 0), out of `sorted`
// (ascending start_ms). Returns indexes [first, last) into `sorted`.
std::pair<size_t, size_t> overlapping(const std::vector<ArchivedSegment> &sorted, int64_t start_ms,
                                      int64_t end_ms);

CatchupPlaylist render_catchup(const std::vector<ArchivedSegment> &sorted,
                               const CatchupRequest &req);

}  // namespace iptv::timeshift
