// The CMAF and DASH checks of iptvctl probe, free of GStreamer and of HTTP (the caller fetches):
//  - an fMP4 HLS segment against its init segment and the segment before it: it reads (one
//    moof of the init's track), a video segment starts on a sync sample, and tfdt continues
//    from the previous segment's end unless the playlist marks a discontinuity;
//  - alignment across renditions: the same sequence number starts at the same instant in every
//    video rendition (within one 90 kHz frame at 25 fps);
//  - a DASH MPD: every listed segment exists, its tfdt and duration are the SegmentTimeline's
//    S@t and S@d, numbers continue across MPD updates (a number never moves to another time, the
//    newest never goes back), the availability times are right (the newest listed segment ended
//    in the recent past by availabilityStartTime), and HLS sequence N and DASH number N are the
//    same file.
// Each broken rule is an Issue with a rule name (the same names as in docs/probe.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace iptv::probe {

struct Issue {
  std::string rule;
  std::string message;
  uint64_t sequence = 0;  // the segment's number, 0 when none applies
};

// One rendition's state across its segments.
struct CmafTrack {
  bool have_prev = false;
  uint64_t next_tfdt = 0;  // the previous segment's end
  uint32_t timescale = 0;
  std::string handler;  // "vide" / "soun" once an init segment was read
};

// Checks one media segment (`seg`) of a rendition with its init segment. `start_s` receives the
// segment's start (tfdt / timescale) when it reads.
std::vector<Issue> check_cmaf_segment(std::span<const uint8_t> init, std::span<const uint8_t> seg,
                                      uint64_t sequence, bool discontinuity, CmafTrack &track,
                                      double *start_s);

// Start times by rendition, by sequence number (video renditions only).
using Starts = std::map<std::string, std::map<uint64_t, double>>;
// The sequence numbers whose start differs between video renditions by more than `tolerance_s`.
std::vector<Issue> check_alignment(const Starts &starts, double tolerance_s = 1.0 / 25);

// What the MPD check needs from outside: the body of a URL, or nullopt when it cannot be fetched.
using Fetch = std::function<std::optional<std::string>(const std::string &url)>;

struct MpdState {
  std::map<std::string, std::map<uint64_t, uint64_t>> time_of;  // rep -> number -> S@t
  std::map<std::string, uint64_t> newest;                       // rep -> newest number listed
  int updates = 0;
};

struct MpdRep {
  std::string id, media, init, codecs;
  uint32_t timescale = 1;
  uint64_t start_number = 1, pto = 0;
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // (t, d), numbered from start_number
};
struct MpdInfo {
  bool dynamic = false;
  int64_t availability_start_ms = 0;
  double max_segment_s = 0, min_update_s = 0;
  std::vector<MpdRep> reps;
};
// Parses the parts of an MPD the checks use (SegmentTemplate + SegmentTimeline). nullopt with
// `error` when it is no MPD or lists no Representation.
std::optional<MpdInfo> parse_mpd(const std::string &text, std::string *error);

// One fetch of the MPD at `now_ms` (UTC): checks it and its segments (URLs resolved against
// `mpd_url`), and against the previous fetches in `state`. The HLS media playlist index.m3u8 in
// the folder of each Representation's segments, when there is one, must list the same file under
// the same number. `check_media` false: the segments are not fetched (the MPD alone).
std::vector<Issue> check_mpd(const std::string &text, const std::string &mpd_url, int64_t now_ms,
                             const Fetch &fetch, MpdState &state, bool check_media = true);

// RFC 3986 reference resolution of a relative URL against a base URL.
std::string resolve_relative(const std::string &base, const std::string &ref);

}  // namespace iptv::probe
