// The static low-latency HLS checks of iptvctl probe (RFC 8216bis), free of HTTP (the caller
// fetches the media playlist; the blocking-reload timing rules live with the origin's checks):
//  - ll-part-duration: an EXT-X-PART lasts longer than EXT-X-PART-INF:PART-TARGET;
//  - ll-part-inf-missing: EXT-X-PART lines with no EXT-X-PART-INF;
//  - ll-parts-sum: the parts listed for a segment do not add up to its EXTINF;
//  - ll-preload-hint-stuck: between two fetches the playlist published new parts but the
//    EXT-X-PRELOAD-HINT still names the same part;
//  - ll-preload-hint-listed: the preload hint names a part the same playlist already lists;
//  - ll-pdt-extinf: a segment's EXT-X-PROGRAM-DATE-TIME plus its EXTINF is not the next
//    segment's PDT (no discontinuity between): a player that places one rendition on another
//    by PDT (hls.js does so with an alternate audio playlist) sees a hole or an overlap there.
// Each broken rule is an Issue (cmaf_check.h) with the rule name, as in docs/probe.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probe/cmaf_check.h"

namespace iptv::probe {

struct LlPart {
  double duration = 0;
  std::string uri;
  bool independent = false;
};
struct LlSegment {
  uint64_t sequence = 0;
  double duration = 0;         // EXTINF
  int64_t pdt_ms = -1;         // EXT-X-PROGRAM-DATE-TIME (ms since the epoch); -1 when absent
  bool discontinuity = false;  // EXT-X-DISCONTINUITY before it
  std::string uri;
  std::vector<LlPart> parts;
};
// What the checks read from a media playlist.
struct LlPlaylist {
  double part_target = 0;  // EXT-X-PART-INF:PART-TARGET; 0 when absent
  std::vector<LlSegment> segments;
  std::vector<LlPart> open_parts;  // parts after the last EXTINF (the segment being written)
  uint64_t open_sequence = 0;      // their segment's number
  std::string preload_hint;        // EXT-X-PRELOAD-HINT TYPE=PART URI ("" for none)
  bool ended = false;
  bool low_latency() const {
    return part_target > 0 || !open_parts.empty() || !preload_hint.empty() ||
           (!segments.empty() && !segments.back().parts.empty());
  }
};
LlPlaylist parse_ll_playlist(const std::string &text);

// One fetch: the part durations and sums. `tolerance_s` covers the rounding of the printed
// durations (the sum of a segment's parts against its EXTINF).
// The PDT rule allows 2 ms (PDTs are printed to the millisecond, EXTINFs rounded).
std::vector<Issue> check_ll_playlist(const LlPlaylist &pl, double tolerance_s = 0.002);
// Two fetches of the same media playlist, `before` then `after`.
std::vector<Issue> check_preload_hint(const LlPlaylist &before, const LlPlaylist &after);

}  // namespace iptv::probe
