// Low-latency HLS (RFC 8216bis) as the origin sees it: what a published media playlist says
// about its parts, whether a blocking reload (_HLS_msn, _HLS_part) is answered, and the Playlist
// Delta Update (_HLS_skip=YES|v2, EXT-X-SKIP) made from a full playlist.
//
// The origin learns which parts exist only from the playlist as the packager publishes it
// (EXT-X-PART, EXT-X-PRELOAD-HINT TYPE=PART, EXT-X-PART-INF, EXT-X-SERVER-CONTROL); it never
// guesses part names. GLib-free and allocation-light: parsed once per published version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iptv {

struct MediaPlaylistInfo {
  int64_t media_sequence = 0;
  int64_t last_msn = -1;      // the last complete segment's media sequence number (-1: none)
  int target_duration = 0;    // EXT-X-TARGETDURATION
  double part_target = 0;     // EXT-X-PART-INF:PART-TARGET (0: not a low-latency playlist)
  int parts_pending = 0;      // EXT-X-PART entries after the last segment (the one in progress)
  double can_skip_until = 0;  // EXT-X-SERVER-CONTROL CAN-SKIP-UNTIL (0: no delta updates)
  bool can_skip_dateranges = false;
  bool can_block_reload = false;
  bool endlist = false;
  int version = 0;                     // EXT-X-VERSION
  std::string preload_part;            // EXT-X-PRELOAD-HINT TYPE=PART URI (relative, as written)
  std::vector<std::string> part_uris;  // every EXT-X-PART URI listed
  std::vector<std::string> daterange_ids;  // every EXT-X-DATERANGE ID
};

// Parses a media playlist's text. Never fails: what is missing stays at its default.
MediaPlaylistInfo scan_media_playlist(std::string_view text);

// The value of attribute `name` in a tag line (`#EXT-X-PART:DURATION=0.5,URI="a.m4s"`): quotes
// removed; nullopt when absent.
std::optional<std::string> hls_attribute(std::string_view line, std::string_view name);

// A blocking reload asks for segment `msn` (and, with `part` >= 0, its part `part`).
enum class BlockVerdict { kReady, kWait, kTooFar };
// kReady: the playlist holds that segment (or part) or a later one; kTooFar: _HLS_msn is more
// than 2 past the last segment, or _HLS_part more than the Advance Part Limit (3 / PART-TARGET
// below a 1 s part target, else 3) past the last part; kWait otherwise.
BlockVerdict block_verdict(const MediaPlaylistInfo &info, int64_t msn, int64_t part);

// The Playlist Delta Update of `text`: the segments wholly older than CAN-SKIP-UNTIL seconds
// before the playlist's end replaced by `#EXT-X-SKIP:SKIPPED-SEGMENTS=n` (the last EXT-X-MAP and
// EXT-X-KEY among them kept before the first remaining segment). `v2` (when the playlist says
// CAN-SKIP-DATERANGES=YES): their EXT-X-DATERANGE tags are skipped too and the tag carries
// RECENTLY-REMOVED-DATERANGES (`removed_dateranges`, tab-separated); otherwise every
// EXT-X-DATERANGE is kept. EXT-X-VERSION is raised to 9 (10 with RECENTLY-REMOVED-DATERANGES).
// nullopt when the playlist allows no delta (no CAN-SKIP-UNTIL) or nothing is old enough.
std::optional<std::string> delta_update(std::string_view text, const MediaPlaylistInfo &info,
                                        bool v2,
                                        const std::vector<std::string> &removed_dateranges);

}  // namespace iptv
