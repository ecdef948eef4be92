// iptvhlssink's fMP4 helpers, free of GStreamer: an Annex B access unit as a CMAF sample
// (4-byte NAL lengths, parameter sets and access unit delimiters moved out to the sample entry),
// and nanoseconds to a track timescale.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cmaf/codec.h"

namespace iptv {

struct AccessUnit {
  cmaf::Bytes sample;                      // NAL units with 4-byte big-endian lengths
  std::vector<cmaf::Bytes> vps, sps, pps;  // found in the access unit (in order)
};

// Splits an Annex B access unit. H.264 drops AUD (9) and moves SPS (7) / PPS (8) out; H.265
// drops AUD (35) and moves VPS (32) / SPS (33) / PPS (34) out: avc1/hvc1 sample entries carry
// the parameter sets, and hvc1 (what Apple devices want) forbids them in band.
AccessUnit annexb_access_unit(std::span<const uint8_t> annexb, bool hevc);

// floor(ns * timescale / 1e9) without overflow for any non-negative ns.
uint64_t ns_to_timescale(uint64_t ns, uint32_t timescale);

}  // namespace iptv
