// A DASH MPD (ISO/IEC 23009-1) over the very CMAF files the HLS playlists list, free of
// GStreamer: per rendition a Representation with a SegmentTemplate whose $Number$ is the HLS
// media sequence number and a SegmentTimeline of the segments in the window (their tfdt and
// durations). Media time is UTC (tfdt = the sample's UTC). A dynamic MPD's availabilityStartTime
// is the start of the run's first segment (MpdConfig::period_start), with the Period at PT0S and
// presentationTimeOffset the same instant in each timescale, so media time t is available at
// UTC t (after its segment's end) exactly as with an epoch anchor; the anchor is not the epoch
// itself because dashdemux2 1.22 mis-schedules segments ~1.7e9 s after availabilityStartTime.
// $Number$ stays the HLS media sequence number either way (startNumber, not time, sets it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iptv::cmaf {

struct MpdSegment {
  uint64_t number = 0;  // = the HLS media sequence number
  uint64_t time = 0;    // tfdt, in the timescale
  uint64_t duration = 0;
};

struct MpdRepresentation {
  std::string id;  // also the folder: <id>/init.mp4, <id>/seg-<N>.m4s
  bool video = true;
  std::string codecs;      // from the init segment, as in HLS CODECS
  uint64_t bandwidth = 0;  // bit/s, as in HLS BANDWIDTH (peak)
  uint32_t width = 0, height = 0;
  double frame_rate = 0;
  uint32_t sample_rate = 0, channels = 0;
  std::string language;  // audio, optional
  uint32_t timescale = 90000;
  std::string init = "init.mp4";     // relative to the folder
  std::vector<MpdSegment> segments;  // in order, the window
};

struct MpdConfig {
  bool dynamic = true;
  double target_seconds = 4;       // minimumUpdatePeriod, maxSegmentDuration, minBufferTime
  double window_seconds = 24;      // timeShiftBufferDepth
  double presentation_delay = 12;  // suggestedPresentationDelay
  int64_t publish_ms = 0;          // publishTime (UTC ms)
  std::string utc_timing_url;      // UTCTiming (urn:mpeg:dash:utc:http-iso:2014), "" for none
  // Dynamic: the Period starts at this media time (seconds since the epoch; fixed for a run so
  // it stays the same across MPD updates) with presentationTimeOffset at the same instant;
  // segments before it (a previous run's) are left out. 0: the Period starts at the epoch.
  double period_start = 0;
};

// The MPD text. Dynamic: availabilityStartTime = cfg.period_start, no duration, the Period at
// PT0S with presentationTimeOffset = cfg.period_start. Static (at EOS): mediaPresentationDuration
// from the first to the last segment of the first Representation, and the Period starts at the
// first segment.
std::string render_mpd(const MpdConfig &cfg, const std::vector<MpdRepresentation> &reps);

// "PT12.345S"
std::string iso_duration(double seconds);

}  // namespace iptv::cmaf
