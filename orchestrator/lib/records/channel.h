// The channel record: the contract between the people who keep channels/*.yaml in git and the
// daemon that runs them. Every field has a default, so a minimal record is five lines. The
// article's control record (channel_id, status, source_type, profiles, access, failover,
// observability) loads exactly as written; the rest extends it. See docs/channels.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "profiles/profiles.h"

namespace iptv {

enum class ChannelStatus { kActive, kDisabled, kRetired };
enum class EncoderChoice { kAuto, kX264, kVaapi, kNvenc };
enum class PlaylistType { kLive, kEvent, kVod };
enum class SequenceMode { kEpoch, kCounter };
enum class SegmentFormat { kTs, kFmp4 };
enum class SourceKind { kUdp, kSrt, kRtmp, kRtsp, kHls, kFile, kTest, kNone };
enum class OutputKind { kSrt, kRtmp, kUdp };
enum class PlacementRole { kAny, kEdge, kCloud };

struct SourceSpec {
  std::string uri;  // udp://, srt://, rtmp(s)://, rtsp://, http(s)://...m3u8, file://, test://
  SourceKind kind = SourceKind::kTest;
  int program = 0;        // MPEG-TS program number (udp); 0 = the first one
  int latency_ms = 200;   // SRT/RTSP jitter latency
  std::string interface;  // udp multicast interface (optional)
  int line = 0;           // position of the URI in the record file, for messages
};

struct Rights {
  std::string owner;
  std::string licence;
  std::vector<std::string> regions;  // where the licence allows distribution; empty = anywhere
  std::string expires;               // ISO 8601 date or date-time (UTC); empty = no expiry
  int64_t expires_unix = 0;          // parsed `expires` (0 = none)
  double catchup_days = 0;           // how long the licence allows keeping the programme (0: not)
};

struct Access {
  std::vector<std::string> regions;  // `region:` string or list
  bool account_required = true;
};

struct Failover {
  bool enabled = false;
  std::string backup_source;  // another channel_id
  double primary_loss_seconds = 3.0;
  double return_after_seconds = 10.0;
  std::vector<std::string> triggers;  // silence, black, freeze
  int backup_source_line = 0;         // position of backup_source, for cross-file messages
  int backup_source_column = 0;
};

struct Observability {
  double alert_after_segment_gap_seconds = 12.0;
};

struct Quality {
  double silence_threshold_db = -60.0;
  double silence_seconds = 10.0;
  double black_threshold = 0.08;  // mean luma as a fraction of full scale
  double black_seconds = 10.0;
  double freeze_seconds = 15.0;
};

struct HlsSettings {
  double segment_seconds = 4.0;
  int window_segments = 6;
  double dvr_seconds = 0.0;
  PlaylistType playlist_type = PlaylistType::kLive;
  SequenceMode sequence_mode = SequenceMode::kEpoch;
  // ts: MPEG-TS segments, the audio muxed into every rendition; fmp4: CMAF init + .m4s segments
  // with the audio a rendition of its own (iptvhlssink segment-format).
  SegmentFormat segment_format = SegmentFormat::kTs;
  std::string audio_language;  // fmp4: EXT-X-MEDIA LANGUAGE / MPD lang (BCP 47); "" = none
  std::string audio_name;      // fmp4: EXT-X-MEDIA NAME; "" = "audio"
  // hls.low_latency.part_seconds: low-latency HLS parts (iptvhlssink part-duration); 0 = off.
  // Needs segment_format fmp4 and a value below segment_seconds.
  double part_seconds = 0;
};

// Time-shift and catch-up (docs/timeshift.md). The DVR window itself is hls.dvr_seconds
// (`dvr.window_seconds` in a record sets it).
struct Catchup {
  double days = 0;           // keep the programme this long for time-addressed URLs (0: off)
  double max_gigabytes = 0;  // size cap of the channel's warm folder (0: none)
  int line = 0;              // position of catchup.days, for messages
};

// AES-128 encryption of the HLS segments (docs/channels.md, docs/encryption.md): keys made by
// iptvd per channel and key period, a new key every `rotate_segments` segments.
struct Encryption {
  bool enabled = false;     // method: aes-128
  int rotate_segments = 0;  // segments per key period (>= 1 when enabled)
  int line = 0;             // position of encryption.method, for messages
};

struct Output {
  OutputKind kind = OutputKind::kSrt;
  std::string uri;
};

struct Epg {
  std::string tvg_id;  // default: channel_id
  std::string logo;
  std::string group;
  std::string schedule;  // path of an XMLTV or schedule file, relative to the record
};

struct Placement {
  std::string node;  // empty = any node
  PlacementRole role = PlacementRole::kAny;
};

// In a cluster (docs/cluster.md): `hot-standby` runs the channel on two nodes at once, its owner
// and a standby that takes over at once when the owner is lost. Alone, iptvd ignores it.
enum class Redundancy { kNone, kHotStandby };

struct ChannelRecord {
  std::string file;  // where it was loaded from
  int line = 1;      // line of channel_id, for messages
  std::string content_sha256;

  std::string channel_id;
  std::string name;  // display name; default channel_id
  ChannelStatus status = ChannelStatus::kActive;
  std::string source_type = "licensed-live-feed";
  SourceSpec source;
  Rights rights;
  std::vector<Profile> profiles;  // resolved; passthrough is a single entry with passthrough=true
  EncoderChoice encoder = EncoderChoice::kAuto;
  std::string preset = "veryfast";
  double keyframe_interval_seconds = 2.0;
  // Output frame rate of a transcode (every rung); 0: the daemon's default (30).
  int frame_rate = 0;
  // AAC bitrate of the one audio track muxed into every rung (transcode); 0: the default (128).
  int audio_bitrate_kbps = 0;
  Access access;
  Failover failover;
  Observability observability;
  Quality quality;
  HlsSettings hls;
  Catchup catchup;
  Encryption encryption;
  // manifest.mpd next to the HLS playlists over the same fMP4 segments (needs
  // hls.segment_format: fmp4).
  bool dash = false;
  std::vector<Output> outputs;
  Epg epg;
  Placement placement;
  Redundancy redundancy = Redundancy::kNone;

  bool passthrough() const { return profiles.size() == 1 && profiles[0].passthrough; }
  // Test patterns need no rights; any other source needs an owner and a licence.
  bool runnable_rights() const {
    return source.kind == SourceKind::kTest || (!rights.owner.empty() && !rights.licence.empty());
  }
};

const char *to_string(ChannelStatus s);
const char *to_string(EncoderChoice e);
const char *to_string(PlaylistType t);
const char *to_string(SequenceMode m);
const char *to_string(SegmentFormat f);
const char *to_string(SourceKind k);
const char *to_string(OutputKind k);
const char *to_string(PlacementRole r);

}  // namespace iptv
