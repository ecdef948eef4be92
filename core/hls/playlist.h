// HLS playlist model and writer (RFC 8216), free of GStreamer: media playlists with a sliding
// window, DVR window, EVENT/VOD types, discontinuities, program date-time; multivariant
// playlists; and a reader for our own media playlists so a restart continues them.
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace iptv::hls {

enum class PlaylistType { kLive, kEvent, kVod };

// A partial segment (low-latency HLS, RFC 8216bis 4.4.4.9): EXT-X-PART.
struct Part {
  double duration = 0;       // seconds
  std::string uri;           // relative to the playlist
  bool independent = false;  // starts with a keyframe: INDEPENDENT=YES
};

// EXT-X-RENDITION-REPORT for another rendition: its playlist (relative URI), the number of its
// last segment with a part and that part's index (-1: no parts, LAST-PART left out).
struct RenditionReport {
  std::string uri;
  uint64_t last_msn = 0;
  int64_t last_part = -1;
};

struct Segment {
  uint64_t sequence = 0;
  double duration = 0;         // seconds
  std::string uri;             // relative to the playlist
  int64_t pdt_ms = 0;          // program date-time, UTC milliseconds (0 = unknown)
  bool discontinuity = false;  // EXT-X-DISCONTINUITY before this segment
  uint64_t bytes = 0;
  std::string map_uri;      // fMP4: the init segment (EXT-X-MAP); "" for MPEG-TS
  std::vector<Part> parts;  // low latency: the parts that make up this segment, in order
  // Encryption: the EXT-X-KEY attribute list in force for this segment, e.g.
  // `METHOD=AES-128,URI="key/12",IV=0x00..0f`; "" for a clear segment. Written before the first
  // segment and wherever it changes (`METHOD=NONE` when a clear segment follows encrypted ones).
  std::string key;
};

class MediaPlaylist {
 public:
  MediaPlaylist(PlaylistType type, double target_seconds, int window_segments, double dvr_seconds)
      : type_(type), target_(target_seconds), window_(window_segments), dvr_(dvr_seconds) {}

  // Appends a segment and returns the segments that left the window (to delete later, once no
  // player can still want them). In a live playlist, a sequence that skips numbers restarts the
  // window at that number behind a discontinuity: implied numbers must equal the segments' own.
  std::vector<Segment> add(const Segment &s);
  void end() { ended_ = true; }

  // EXT-X-TARGETDURATION: at least every rounded EXTINF listed, and the configured target.
  int target_duration() const;
  std::string render() const;

  // Low latency (part target in seconds; 0, the default, is off). When on, render() writes
  // EXT-X-VERSION:9, EXT-X-SERVER-CONTROL (CAN-BLOCK-RELOAD=YES, CAN-SKIP-UNTIL = 6 target
  // durations, PART-HOLD-BACK = 3 part targets), EXT-X-PART-INF, the EXT-X-PART lines of the
  // segments that start within the last 3 target durations and of the open segment, the
  // EXT-X-PRELOAD-HINT and the rendition reports.
  void set_part_target(double seconds) { part_target_ = seconds; }
  double part_target() const { return part_target_; }
  // The segment being written: its parts are listed after the last complete segment, with its
  // DISCONTINUITY/MAP/PROGRAM-DATE-TIME before them. add() of that sequence takes its parts.
  void open_segment(uint64_t sequence, bool discontinuity, int64_t pdt_ms,
                    const std::string &map_uri);
  void add_part(const Part &p);
  const Segment &open() const { return open_; }
  bool has_open() const { return have_open_; }
  // EXT-X-PRELOAD-HINT:TYPE=PART,URI=<uri> ("" for none; never written once ended).
  void set_preload_hint(const std::string &uri) { preload_hint_ = uri; }
  void set_rendition_reports(std::vector<RenditionReport> r) { reports_ = std::move(r); }
  // This playlist's own report (for the other renditions' playlists): the last segment with a
  // part (the open one when it has parts) and that part's index.
  RenditionReport report(const std::string &uri) const;
  // Parts a restored playlist listed for a segment it never completed (files to delete).
  const std::vector<Part> &orphan_parts() const { return orphans_; }

  const std::deque<Segment> &segments() const { return segments_; }
  uint64_t media_sequence() const {
    if (!segments_.empty()) return segments_.front().sequence;
    return have_open_ ? std::max(open_.sequence, next_sequence_) : next_sequence_;
  }
  uint64_t discontinuity_sequence() const { return discontinuity_sequence_; }
  uint64_t next_sequence() const { return next_sequence_; }
  bool ended() const { return ended_; }
  PlaylistType type() const { return type_; }

  // Restores the state of a playlist we wrote before (after a restart). Returns false when the
  // text is not a media playlist.
  bool restore(const std::string &text);
  // Continues after a restart: the next segment gets at least `sequence` and a discontinuity.
  void resume_at(uint64_t sequence);
  // Empties the window (the restored segments are of another format: MPEG-TS and fMP4 cannot
  // share a window, an EXT-X-MAP applies to every segment after it). Numbering goes on; the
  // discontinuity sequence counts the removed segments' discontinuities (RFC 8216 6.2.2).
  void drop_window();

 private:
  PlaylistType type_;
  double target_;
  int window_;
  double dvr_;
  std::deque<Segment> segments_;
  uint64_t next_sequence_ = 0;
  uint64_t discontinuity_sequence_ = 0;
  int max_rounded_ = 0;
  bool ended_ = false;
  double part_target_ = 0;
  Segment open_;
  bool have_open_ = false;
  std::string preload_hint_;
  std::vector<RenditionReport> reports_;
  std::vector<Part> orphans_;
  std::vector<Segment> gap_removed_;  // dropped by a gap in numbers, returned by the next add()
  void restart_window_on_gap(uint64_t sequence);
};

struct Variant {
  std::string uri;
  uint64_t bandwidth = 0;          // peak segment bit rate, bit/s
  uint64_t average_bandwidth = 0;  // bit/s
  int width = 0, height = 0;
  double frame_rate = 0;
  std::string codecs;            // "avc1.64001f,mp4a.40.2"
  std::string audio_group = {};  // AUDIO="..." (an EXT-X-MEDIA TYPE=AUDIO group), "" for none
};

// An EXT-X-MEDIA TYPE=AUDIO rendition (fMP4: audio in its own media playlist).
struct AudioMedia {
  std::string group_id, name, language, uri;
};

// Variants ordered by bandwidth, EXT-X-INDEPENDENT-SEGMENTS set. With audio media (fMP4), the
// EXT-X-MEDIA lines come first and the playlist is EXT-X-VERSION:7.
std::string render_multivariant(std::vector<Variant> variants,
                                const std::vector<AudioMedia> &audio = {});

// "2026-11-24T22:33:00.123Z"
std::string format_pdt(int64_t utc_ms);

// RFC 6381 codec strings.
// avc1.PPCCLL from the first SPS NAL unit in an Annex B byte stream; "" when none is found.
std::string avc1_codec_from_annexb(const uint8_t *data, size_t size);
// hvc1.<space><profile>.<compat>.<tier><level>[.<constraints>] from the first SPS NAL unit in an
// Annex B H.265 byte stream (ISO/IEC 14496-15 E.3); "" when none is found.
std::string hvc1_codec_from_annexb(const uint8_t *data, size_t size);
// mp4a.40.N from an AudioSpecificConfig (codec_data); "mp4a.40.2" (AAC-LC) when too short.
std::string mp4a_codec_from_asc(const uint8_t *data, size_t size);

}  // namespace iptv::hls
