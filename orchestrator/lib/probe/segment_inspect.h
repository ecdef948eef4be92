// Segment content inspection with FFmpeg as a subprocess, one ffmpeg run per segment (each run
// costs ~70 ms of CPU just to start, so one run does everything):
//   -map 0 -c copy -f framecrc -     every packet: stream, PTS, duration, key flag (stdout)
//   -map 0:v:0 -frames:v 1 -f h264   the first video access unit, whose SPS gives the H.264
//                                    profile_idc and level_idc (core/hls avc1_codec_from_annexb)
//   -map 0:a:0 -af volumedetect      the audio peak level (log)
// plus the codec names and profiles from the log's stream lines. ffprobe -show_frames decodes
// the first frame for the startup time.
#pragma once

#include <string>

#include "hlsparse/checker.h"

namespace iptv::probe {

// Inspects the segment bytes (written to a temporary file). Sets inspected=false and error when
// FFmpeg cannot read it.
void inspect_segment(const std::string &bytes, hlsparse::SegmentProbe &out);

// Decodes the first video frame (or audio frame when there is no video) of the segment; returns
// the time it took in ms, or a negative value when nothing decodes (error set).
double decode_first_frame_ms(const std::string &bytes, std::string &error);

// Decodes the first `seconds` of `bytes` (TS, or an fMP4 init + media segments) with ffprobe:
// every frame of the first video stream (else audio) from its first frame on. `frames` 0 and
// `error` set when nothing decodes.
struct DecodedSpan {
  int frames = 0;
  double seconds = 0;    // from the first frame's PTS to the end of the last one decoded
  double decode_ms = 0;  // wall time of the decode
  std::string stream;    // video | audio
};
DecodedSpan decode_span(const std::string &bytes, double seconds, std::string &error);

// Parses what the ffmpeg run printed: framecrc text (stdout) and its log (stderr). False when the
// framecrc text lists no stream.
bool parse_inspection(const std::string &framecrc, const std::string &log,
                      hlsparse::SegmentProbe &out);

// Parses the max_volume line ffmpeg's volumedetect prints; -1000 for -inf.
bool parse_volumedetect(const std::string &log, double &max_db);

}  // namespace iptv::probe
