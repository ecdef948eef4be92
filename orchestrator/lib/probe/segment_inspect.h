// Segment content inspection with FFmpeg's tools as subprocesses: ffprobe (streams and packets,
// JSON) for codecs, H.264 profile/level, first-packet keyframe, duration and first PTS; ffmpeg's
// volumedetect filter for the audio level; ffprobe -show_frames for the first decodable frame.
#pragma once

#include <string>

#include "hlsparse/checker.h"

namespace iptv::probe {

// Inspects the segment bytes (written to a temporary file). Sets inspected=false and error when
// the tools cannot read it. `audio_level`: also measure the audio peak level.
void inspect_segment(const std::string &bytes, bool audio_level, hlsparse::SegmentProbe &out);

// Decodes the first video frame (or audio frame when there is no video) of the segment; returns
// the time it took in ms, or a negative value when nothing decodes (error set).
double decode_first_frame_ms(const std::string &bytes, std::string &error);

// H.264 profile_idc from ffprobe's profile name ("High" -> 100), 0 when unknown.
int h264_profile_idc(const std::string &name);

// Parses ffprobe's JSON (-show_streams -show_packets) into `out`; false when it is not that.
bool parse_ffprobe_json(const std::string &json, hlsparse::SegmentProbe &out, std::string &error);

// Parses the max_volume line ffmpeg's volumedetect prints; -1000 for -inf.
bool parse_volumedetect(const std::string &log, double &max_db);

}  // namespace iptv::probe
