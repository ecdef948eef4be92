// Internal to hlsparse: the CODECS attribute (RFC 8216 4.3.4.2, RFC 6381) as the checker reads
// it, shared by checker.cpp (variant attributes) and checker_codecs.cpp (rule codecs-mismatch).
#pragma once

#include <string>
#include <vector>

namespace iptv::hlsparse::detail {

// One entry of a CODECS attribute, by what it says about the content.
struct Codec {
  std::string kind;                    // "video", "audio", "other"
  std::string family;                  // "h264", "hevc", "aac", "mp3", "ac3", "eac3", ...
  int profile_idc = 0, level_idc = 0;  // H.264
  int aac_object = 0;                  // mp4a.40.N
  std::string text;
};

std::vector<Codec> parse_codecs(const std::string &attr);

// The MPEG-4 audio object type of an ffprobe AAC profile name ("LC" -> 2), 0 when unknown.
int aac_object_of(const std::string &profile);

}  // namespace iptv::hlsparse::detail
