// CMAF (ISO/IEC 23000-19) fragmented MP4, free of GStreamer: one track per file.
//  - init segment: ftyp + moov (mvhd, trak with an avc1/hvc1/mp4a sample entry carrying
//    avcC/hvcC/esds, empty sample tables) + mvex/trex;
//  - media segment: moof (mfhd, traf(tfhd default-base-is-moof, tfdt v1, trun v1 with sample
//    durations, sizes, flags and composition offsets)) + mdat.
// And a bounds-checked reader for both (the tests and the probe; fuzzed in tests/cmaf/).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cmaf/codec.h"

namespace iptv::cmaf {

enum class TrackKind { kVideo, kAudio };

struct TrackConfig {
  TrackKind kind = TrackKind::kVideo;
  std::string fourcc;  // sample entry: "avc1", "hvc1" or "mp4a"
  uint32_t track_id = 1;
  uint32_t timescale = 90000;
  uint32_t width = 0, height = 0;          // video
  uint32_t sample_rate = 0, channels = 0;  // audio
  Bytes decoder_config;          // avcC / hvcC record, or the AudioSpecificConfig for mp4a
  std::string language = "und";  // ISO 639-2/T, three lower-case letters
};

// Sample flags (ISO/IEC 14496-12 8.8.3.1) for trun.
constexpr uint32_t kSyncSampleFlags = 0x02000000;     // depends on no other sample
constexpr uint32_t kNonSyncSampleFlags = 0x01010000;  // depends on others, non-sync

struct Sample {
  uint32_t duration = 0;  // in the track timescale
  uint32_t size = 0;      // bytes in mdat
  uint32_t flags = kSyncSampleFlags;
  int32_t composition_offset = 0;  // PTS - DTS in the track timescale (trun version 1)
};

// The codecs string for the track's decoder_config (avc1.PPCCLL, hvc1.*, mp4a.40.N).
std::optional<std::string> codec_string(const TrackConfig &t, std::string *error);

// The init segment. Fails on an unknown fourcc or a decoder_config that does not parse.
std::optional<Bytes> write_init_segment(const TrackConfig &t, std::string *error);

// One media segment: moof + mdat. `payload` is the concatenation of the samples (sizes must add
// up to its length; video samples with 4-byte NAL lengths). `base_decode_time` is the tfdt.
std::optional<Bytes> write_media_segment(uint32_t sequence_number, uint32_t track_id,
                                         uint64_t base_decode_time, std::span<const Sample> samples,
                                         std::span<const uint8_t> payload, std::string *error);

// ---- reader ----

struct Box {
  std::string type;
  uint64_t offset = 0;       // of the box header in the buffer
  uint64_t size = 0;         // whole box
  uint32_t header_size = 8;  // 8, or 16 with a 64-bit size
  std::span<const uint8_t> payload() const;
  std::span<const uint8_t> buffer;  // the buffer the offsets refer to
};

// The boxes directly inside `data` (one level), in order. Fails when a size is below its header
// or runs past the end.
std::optional<std::vector<Box>> read_boxes(std::span<const uint8_t> data, std::string *error);

struct InitInfo {
  TrackConfig track;
  std::string handler;  // "vide" / "soun"
  std::string codecs;   // from the decoder configuration
  bool has_trex = false;
};
std::optional<InitInfo> read_init_segment(std::span<const uint8_t> data, std::string *error);

struct FragmentInfo {
  uint32_t sequence_number = 0;
  uint32_t track_id = 0;
  uint64_t base_decode_time = 0;
  std::vector<Sample> samples;
  uint64_t data_offset = 0;  // of the first sample, in the file
  uint64_t mdat_payload_size = 0;
  uint64_t duration() const;
};
// A media segment: one or more moof+mdat pairs; each pair one FragmentInfo. Checks that every
// sample lies inside its mdat.
std::optional<std::vector<FragmentInfo>> read_media_segment(std::span<const uint8_t> data,
                                                            std::string *error);

}  // namespace iptv::cmaf
