// Codec configuration from the bitstream, free of GStreamer: the decoder configuration records
// an fMP4 sample entry carries (avcC from H.264 SPS/PPS, hvcC from H.265 VPS/SPS/PPS, the AAC
// AudioSpecificConfig for esds) and the RFC 6381 codecs strings HLS CODECS and DASH @codecs use
// (avc1.PPCCLL, hvc1.<profile>.<compat>.<tier><level>.<constraints>, mp4a.40.<object type>).
// Every parser is bounds-checked and returns std::nullopt with a reason on malformed input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace iptv::cmaf {

using Bytes = std::vector<uint8_t>;

// Removes emulation-prevention bytes (00 00 03 -> 00 00) from a NAL unit.
Bytes nal_to_rbsp(std::span<const uint8_t> nal);

// Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units.
std::vector<std::span<const uint8_t>> split_annexb(std::span<const uint8_t> data);

// H.264 sequence parameter set: the fields avcC and the codecs string need, and the picture size.
struct H264Sps {
  uint8_t profile_idc = 0, constraint_flags = 0, level_idc = 0;
  uint32_t width = 0, height = 0;  // after frame cropping
};
std::optional<H264Sps> parse_h264_sps(std::span<const uint8_t> nal, std::string *error);

// H.265 sequence parameter set: general profile_tier_level and the fields hvcC needs.
struct H265Sps {
  uint8_t profile_space = 0, tier_flag = 0, profile_idc = 0;
  uint32_t compat_flags = 0;   // general_profile_compatibility_flag[0] in the top bit
  uint8_t constraint[6] = {};  // progressive_source_flag ... the 48 constraint bits
  uint8_t level_idc = 0;
  uint8_t max_sub_layers = 1, temporal_id_nesting = 0;
  uint8_t chroma_format_idc = 1, bit_depth_luma = 8, bit_depth_chroma = 8;
  uint32_t width = 0, height = 0;  // after the conformance window
};
std::optional<H265Sps> parse_h265_sps(std::span<const uint8_t> nal, std::string *error);

// AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
struct AacConfig {
  uint8_t object_type = 0;  // 2 = AAC-LC
  uint32_t sample_rate = 0;
  uint8_t channels = 0;  // channelConfiguration (0 = in the stream, not supported here)
};
std::optional<AacConfig> parse_audio_specific_config(std::span<const uint8_t> asc,
                                                     std::string *error);

// Decoder configuration records (the payload of the avcC / hvcC boxes), NAL length size 4.
std::optional<Bytes> make_avcc(const std::vector<Bytes> &sps, const std::vector<Bytes> &pps,
                               std::string *error);
std::optional<Bytes> make_hvcc(const std::vector<Bytes> &vps, const std::vector<Bytes> &sps,
                               const std::vector<Bytes> &pps, std::string *error);

// Codecs strings (RFC 6381; ISO/IEC 14496-15 annex E for hvc1) from the records above.
std::optional<std::string> codec_string_avcc(std::span<const uint8_t> avcc, std::string *error);
std::optional<std::string> codec_string_hvcc(std::span<const uint8_t> hvcc, std::string *error);
std::optional<std::string> codec_string_asc(std::span<const uint8_t> asc, std::string *error);

// Picture size from the first SPS of an avcC / hvcC record.
std::optional<H264Sps> avcc_sps(std::span<const uint8_t> avcc, std::string *error);
std::optional<H265Sps> hvcc_sps(std::span<const uint8_t> hvcc, std::string *error);

}  // namespace iptv::cmaf
