// The rule engine of iptvctl probe, free of GStreamer and of I/O: the follower feeds it the
// playlists it fetched (with the time of each fetch) and what it measured in each segment; the
// engine keeps one state per rendition across reloads and turns every broken rule into a Finding.
// Each rule is a function with a stable id (docs/probe.md lists them all). Times are milliseconds
// on any monotonic clock, so tests drive them without sleeping.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hlsparse/parser.h"

namespace iptv::hlsparse {

struct CheckerConfig {
  double stale_factor = 1.5;             // stale: unchanged for longer than this x target
  double duration_tolerance_s = 0.3;     // |measured - EXTINF| allowed: max(this, 10% of EXTINF)
  double timestamp_tolerance_s = 0.5;    // PTS gap/overlap allowed between consecutive segments
  double align_tolerance_s = 0.1;        // first video PTS spread across renditions, same number
  double silence_db = -60.0;             // max_volume at or below this is silence
  double pdt_tolerance_s = 0.5;          // PDT step vs EXTINF
  uint64_t advance_spread_segments = 2;  // newest sequence numbers apart across renditions
};

// The continuity counters of one MPEG-TS segment, per PID (scan_ts_counters).
struct TsPidCounters {
  int first_cc = -1, last_cc = -1;
  bool first_payload = false;        // the first packet carries a payload (the counter steps)
  bool first_discontinuity = false;  // its adaptation field sets discontinuity_indicator
};
struct TsCounters {
  bool valid = false;  // the bytes are whole 188-byte packets, each starting with 0x47
  std::map<unsigned, TsPidCounters> pids;
  int errors_inside = 0;     // counter errors between packets of this segment
  std::string first_inside;  // the first of them, as "PID 32: expected 5, got 1"
};
// Scans the bytes of a segment; invalid (empty) when they are not an MPEG-TS packet stream
// (fMP4, garbage). Null packets (PID 0x1FFF) are skipped.
TsCounters scan_ts_counters(const std::string &bytes);

// What inspecting one downloaded segment found (the follower fills it, e.g. from ffprobe).
struct SegmentProbe {
  bool fetched = false;  // downloaded with a 2xx status
  int http_status = 0;   // 0: no HTTP answer
  std::string error;     // transport or inspection error, "" when none
  uint64_t bytes = 0;
  bool inspected = false;  // the fields below are valid; false with no error: not asked for
  bool has_video = false, has_audio = false;
  std::string video_codec;    // ffprobe codec_name: "h264", "hevc"
  int video_profile_idc = 0;  // H.264 profile_idc (from the profile name), 0 = unknown
  int video_level_idc = 0;    // H.264 level_idc, 0 = unknown
  std::string audio_codec;    // "aac", "mp3", "ac3"
  std::string audio_profile;  // "LC", "HE-AAC", ...
  bool first_video_keyframe = false;
  double duration = 0;                 // measured, seconds (video when there is video)
  std::optional<double> first_pts;     // seconds, video when there is video, else audio
  std::optional<double> audio_max_db;  // volumedetect max_volume; -inf given as -1000
  TsCounters ts;                       // MPEG-TS continuity counters (invalid for fMP4)
};

// The RFC 6381 codec strings a segment's content corresponds to ("avc1.64001f" without the
// constraint byte being known: "avc1.64xx1f"), for display.
std::string measured_codecs(const SegmentProbe &p);

struct RenditionInfo {
  std::string name;
  std::string url;
  int line = 0;  // line of the variant / media tag in the multivariant playlist
  std::string declared_codecs;
  uint64_t bandwidth = 0;
  bool audio_only = false;     // an EXT-X-MEDIA TYPE=AUDIO rendition
  bool expects_audio = false;  // CODECS names an audio codec and audio is in these segments
  bool expects_video = true;
};

struct RenditionSummary {
  RenditionInfo info;
  std::optional<int> target_duration;
  std::optional<uint64_t> first_sequence, last_sequence;  // newest listed at first/last reload
  uint64_t discontinuity_sequence = 0;
  int reloads = 0, changes = 0;
  int segments_fetched = 0, segments_failed = 0;
  double max_stale_s = 0;      // longest time seen without a change (live only)
  double segment_seconds = 0;  // total EXTINF of the fetched segments
  std::string measured_codecs;
  bool ended = false;
  std::map<uint64_t, int64_t> first_seen_ms;  // sequence -> when first listed
};

class Checker {
 public:
  explicit Checker(CheckerConfig config = {}) : cfg_(config) {}

  // Adds a finding; one with the same rule, url, line, rendition and sequence is merged into it
  // (count+1,
  // the newer message, the worse severity).
  void add(Finding f);
  void add(Severity sev, const std::string &rule, const std::string &url, int line,
           const std::string &rendition, const std::string &message);
  // A finding about one segment: never merged with the same rule on another segment.
  void add_seq(uint64_t sequence, Severity sev, const std::string &rule, const std::string &url,
               int line, const std::string &rendition, const std::string &message);

  // The multivariant playlist: variant-attribute-missing. Returns the renditions to follow.
  std::vector<RenditionInfo> on_multivariant(const Playlist &pl);
  void add_rendition(const RenditionInfo &info);

  // One fetch of a rendition's media playlist at `now_ms`. Runs the per-playlist rules and the
  // reload rules against the previous fetch. Returns the segments never listed before.
  std::vector<Segment> on_media_playlist(const std::string &rendition, const Playlist &pl,
                                         const std::string &text, int64_t now_ms);
  // A playlist fetch that failed (HTTP or transport): playlist-unavailable.
  void on_media_playlist_failed(const std::string &rendition, const std::string &url,
                                const std::string &why);

  // What a downloaded segment contained.
  void on_segment(const std::string &rendition, const Segment &seg, const std::string &seg_url,
                  const std::string &playlist_url, const SegmentProbe &probe);

  // Cross-rendition rules that need everything seen; call once at the end.
  void finish();

  const std::vector<Finding> &findings() const { return findings_; }
  const std::map<std::string, RenditionSummary> &renditions() const { return summaries_; }
  const std::vector<std::string> &order() const { return order_; }
  int errors() const;
  bool stale_now(const std::string &rendition, int64_t now_ms) const;

 private:
  struct Seen {
    std::string uri;
    double duration = 0;
    uint64_t discontinuity_sequence = 0;
    bool discontinuity = false;
  };
  struct Probed {
    double first_pts = 0;
    double duration = 0;
    bool valid = false;
  };
  struct State {
    bool have_prev = false;
    uint64_t prev_msn = 0, prev_last = 0, prev_dsn = 0;
    size_t prev_hash = 0;
    int64_t last_change_ms = 0;
    int64_t last_reload_ms = 0;
    double mean_segment_s = 0;          // mean EXTINF of the latest playlist
    std::map<uint64_t, Seen> seen;      // sequence -> as first listed
    std::map<uint64_t, Probed> probed;  // sequence -> measured
    int silent_run = 0;
    bool codecs_reported = false;
    uint64_t ts_seq = 0;  // the sequence whose counters ts_prev holds
    TsCounters ts_prev;
  };

  void rule_targetduration(const std::string &r, const Playlist &pl);
  void rule_pdt(const std::string &r, const Playlist &pl);
  void rule_reload(const std::string &r, State &st, const Playlist &pl, int64_t now_ms,
                   bool changed);
  void rule_advancing_together(const std::string &r);
  void rule_codecs(const std::string &r, const std::string &seg_url, const SegmentProbe &p);
  void rule_ts_continuity(const std::string &r, State &st, const Segment &seg,
                          const std::string &playlist_url, const SegmentProbe &p);
  void rule_alignment(const std::string &r, uint64_t seq, const std::string &seg_url, double pts);

  CheckerConfig cfg_;
  std::vector<Finding> findings_;
  std::map<std::string, RenditionSummary> summaries_;
  std::vector<std::string> order_;
  std::map<std::string, State> state_;
  std::map<uint64_t, std::map<std::string, double>> video_start_;  // seq -> rendition -> PTS
  std::string multivariant_url_;
};

// --compare: the same stream seen through two URLs (e.g. an edge and the origin). Renditions are
// matched by position. Rules: compare-lagging, compare-stale-copy, compare-renditions-differ.
struct CompareRendition {
  std::string name;
  double lag_s = 0;          // median delay of B listing a sequence number after A (>0: B lags)
  int64_t lag_segments = 0;  // newest sequence A minus newest sequence B at the end
  int64_t max_lag_segments = 0;
  bool a_stale = false, b_stale = false;
};
struct CompareResult {
  std::vector<CompareRendition> renditions;
  std::vector<Finding> findings;
};
CompareResult compare(const Checker &a, const std::string &a_url, const Checker &b,
                      const std::string &b_url);

}  // namespace iptv::hlsparse
