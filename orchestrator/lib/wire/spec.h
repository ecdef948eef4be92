// The worker spec (iptvd -> iptvd-worker): everything one worker process needs to run one
// channel, as JSON in a file (`iptvd-worker --spec FILE`). Part of the daemon-worker protocol
// (wire/): the daemon builds it from a channel record (worker/spec.h make_worker_spec), the worker
// reads it back with from_json, which is strict: a wrong field throws naming it.
// GStreamer-free, SQLite-free.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iptv::wire {

struct SourceEntry {
  std::string role;  // "primary" or "backup"
  std::string uri;
  std::string kind;  // udp, srt, rtmp, rtsp, hls, file, test
  int program = 0;   // MPEG-TS program number; 0 = the first
  int latency_ms = 200;
  std::string interface;  // udp multicast interface
};

struct ProfileEntry {
  std::string name;     // rendition name: "360p" (unique within the spec)
  std::string profile;  // as written in the record: "360p-600kbps"
  int width = 0;
  int height = 0;
  int kbps = 0;
  int fps = 0;  // 0: the output frame rate
};

struct HlsEntry {
  std::string dir;  // the channel's HLS folder
  double segment_seconds = 4.0;
  int window = 6;
  double dvr_seconds = 0;
  std::string playlist_type = "live";   // live | event | vod
  std::string sequence_mode = "epoch";  // epoch | counter
  std::string segment_format = "ts";    // ts | fmp4
  bool dash = false;                    // manifest.mpd too (fmp4 only)
  std::string audio_language;           // fmp4 audio rendition LANGUAGE ("" = none)
  std::string audio_name;               // fmp4 audio rendition NAME ("" = "audio")
  double part_seconds = 0;              // low-latency HLS parts (part-duration); 0 = off
  // AES-128 (encryption in the record): segments per key period (0: clear) and the EXT-X-KEY URI
  // format. The keys themselves never appear in the spec: they come on the command pipe.
  int key_rotation = 0;
  std::string key_uri_format;
};

struct QualityEntry {
  double silence_threshold_db = -60.0;
  double silence_seconds = 10.0;
  double black_threshold = 0.08;
  double black_seconds = 10.0;
  double freeze_seconds = 15.0;
  double keyframe_gap_seconds = 12.0;  // observability.alert_after_segment_gap_seconds
};

struct FailoverEntry {
  bool enabled = false;
  double primary_loss_seconds = 3.0;
  double return_after_seconds = 10.0;
  std::vector<std::string> triggers;  // silence, black, freeze
};

struct OutputEntry {
  std::string kind;  // srt, rtmp, udp
  std::string uri;
};

// The channel's thumbnail (docs/console.md): a JPEG about `width` px wide written to `path`
// (atomically: a temporary file, then rename) every `interval_seconds`. path "" = none.
struct ThumbnailEntry {
  std::string path;
  double interval_seconds = 5.0;
  int width = 320;
};

struct WorkerSpec {
  std::string channel_id;
  std::string mode = "transcode";      // transcode | passthrough
  std::vector<SourceEntry> sources;    // primary first, then the backup when there is one
  std::vector<ProfileEntry> profiles;  // empty in passthrough
  std::string encoder = "auto";        // iptvabrladder encoder: auto, x264, vaapi, nvenc
  std::string preset = "veryfast";
  double keyframe_seconds = 2.0;
  // The raw format every source is converted to before the encoders (transcode): the largest
  // rung's size at `fps`.
  int width = 1280;
  int height = 720;
  int fps = 30;
  int audio_rate = 48000;
  int audio_channels = 2;
  int audio_kbps = 128;
  HlsEntry hls;
  QualityEntry quality;
  FailoverEntry failover;
  ThumbnailEntry thumbnail;
  std::vector<OutputEntry> outputs;
  int heartbeat_ms = 1000;
  // A source that failed (error/EOS) is restarted after this many ms.
  int source_retry_ms = 1000;
};

nlohmann::json to_json(const WorkerSpec &spec);
// Throws std::runtime_error with the field at fault when the JSON is not a valid spec.
WorkerSpec from_json(const nlohmann::json &j);

// Reads and parses a spec file; throws std::runtime_error.
WorkerSpec load_spec_file(const std::string &path);

}  // namespace iptv::wire
