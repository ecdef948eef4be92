#include "timeshift/catchup.h"

#include <algorithm>

#include "hls/playlist.h"

namespace iptv::timeshift {

std::pair<size_t, size_t> overlapping(const std::vector<ArchivedSegment> &sorted, int64_t start_ms,
                                      int64_t end_ms) {
  // First segment that ends after `start`: segments are sorted by start and do not overlap, so
  // their ends are sorted too.
  auto first = std::partition_point(sorted.begin(), sorted.end(), [&](const ArchivedSegment &s) {
    return s.start_ms + s.duration_ms <= start_ms;
  });
  auto last = sorted.end();
  if (end_ms != 0) {
    last = std::partition_point(first, sorted.end(),
                                [&](const ArchivedSegment &s) { return s.start_ms < end_ms; });
  }
  return {static_cast<size_t>(first - sorted.begin()), static_cast<size_t>(last - sorted.begin())};
}

CatchupPlaylist render_catchup(const std::vector<ArchivedSegment> &sorted,
                               const CatchupRequest &req) {
  CatchupPlaylist out;
  auto [a, b] = overlapping(sorted, req.start_ms, req.end_ms);
  if (a >= b) return out;
  bool vod = req.end_ms != 0 && !req.end_pending;
  hls::MediaPlaylist pl(vod ? hls::PlaylistType::kVod : hls::PlaylistType::kEvent,
                        req.target_seconds, 0, 0);
  int64_t prev_end = 0, prev_dseq = sorted[a].discontinuity_sequence;
  for (size_t i = a; i < b; ++i) {
    const ArchivedSegment &s = sorted[i];
    hls::Segment seg;
    seg.sequence = i - a;
    seg.duration = s.duration_ms / 1000.0;
    seg.uri = req.uri_for(s);
    seg.pdt_ms = s.start_ms;
    seg.map_uri = s.map_uri;
    seg.bytes = s.bytes;
    seg.key = s.key;
    seg.discontinuity = i > a && (s.discontinuity_sequence != prev_dseq ||
                                  s.start_ms - prev_end > req.gap_tolerance_ms ||
                                  prev_end - s.start_ms > req.gap_tolerance_ms);
    pl.add(seg);
    prev_end = s.start_ms + s.duration_ms;
    prev_dseq = s.discontinuity_sequence;
  }
  if (vod) pl.end();
  out.text = pl.render();
  out.segments = b - a;
  out.first_start_ms = sorted[a].start_ms;
  out.last_end_ms = prev_end;
  return out;
}

}  // namespace iptv::timeshift
