// The record model's names (channel.h). GStreamer-, YAML- and SQLite-free: the worker links this
// without the loader.
#include "records/channel.h"

namespace iptv {

const char *to_string(ChannelStatus s) {
  switch (s) {
    case ChannelStatus::kActive:
      return "active";
    case ChannelStatus::kDisabled:
      return "disabled";
    case ChannelStatus::kRetired:
      return "retired";
  }
  return "?";
}
const char *to_string(EncoderChoice e) {
  switch (e) {
    case EncoderChoice::kAuto:
      return "auto";
    case EncoderChoice::kX264:
      return "x264";
    case EncoderChoice::kVaapi:
      return "vaapi";
    case EncoderChoice::kNvenc:
      return "nvenc";
  }
  return "?";
}
const char *to_string(PlaylistType t) {
  switch (t) {
    case PlaylistType::kLive:
      return "live";
    case PlaylistType::kEvent:
      return "event";
    case PlaylistType::kVod:
      return "vod";
  }
  return "?";
}
const char *to_string(SequenceMode m) {
  return m == SequenceMode::kEpoch ? "epoch" : "counter";
}
const char *to_string(SegmentFormat f) {
  return f == SegmentFormat::kFmp4 ? "fmp4" : "ts";
}
const char *to_string(SourceKind k) {
  switch (k) {
    case SourceKind::kUdp:
      return "udp";
    case SourceKind::kSrt:
      return "srt";
    case SourceKind::kRtmp:
      return "rtmp";
    case SourceKind::kRtsp:
      return "rtsp";
    case SourceKind::kHls:
      return "hls";
    case SourceKind::kFile:
      return "file";
    case SourceKind::kTest:
      return "test";
    case SourceKind::kNone:
      return "none";
  }
  return "?";
}
const char *to_string(OutputKind k) {
  switch (k) {
    case OutputKind::kSrt:
      return "srt";
    case OutputKind::kRtmp:
      return "rtmp";
    case OutputKind::kUdp:
      return "udp";
  }
  return "?";
}
const char *to_string(PlacementRole r) {
  switch (r) {
    case PlacementRole::kAny:
      return "any";
    case PlacementRole::kEdge:
      return "edge";
    case PlacementRole::kCloud:
      return "cloud";
  }
  return "?";
}

}  // namespace iptv
