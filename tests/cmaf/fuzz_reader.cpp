// libFuzzer target: the CMAF box reader (init and media segments, codec records) on any bytes.
// Whatever it accepts must be self-consistent: every sample lies inside the buffer.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "cmaf/boxes.h"
#include "cmaf/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> in(data, size);
  std::string err;
  iptv::cmaf::read_boxes(in, &err);
  if (auto info = iptv::cmaf::read_init_segment(in, &err)) {
    if (info->codecs.empty()) abort();
  }
  if (auto frags = iptv::cmaf::read_media_segment(in, &err)) {
    for (const auto &f : *frags) {
      uint64_t total = 0;
      for (const auto &s : f.samples) total += s.size;
      if (f.data_offset > size || total > size - f.data_offset) abort();
    }
  }
  iptv::cmaf::parse_h264_sps(in, &err);
  iptv::cmaf::parse_h265_sps(in, &err);
  iptv::cmaf::parse_audio_specific_config(in, &err);
  iptv::cmaf::codec_string_hvcc(in, &err);
  iptv::cmaf::hvcc_sps(in, &err);
  iptv::cmaf::avcc_sps(in, &err);
  iptv::cmaf::split_annexb(in);
  return 0;
}
