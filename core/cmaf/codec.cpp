#include "cmaf/codec.h"

#include <cstdio>
#include <cstring>

namespace iptv::cmaf {
namespace {

// MSB-first bit reader over an RBSP. Reading past the end sets failed() and yields zeros, so a
// parser checks once at the end of a section instead of after every field.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> d) : d_(d) {}
  uint32_t u(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 1) | bit();
    return v;
  }
  uint32_t ue() {
    int zeros = 0;
    while (bit() == 0) {
      if (failed_ || ++zeros > 31) {
        failed_ = true;
        return 0;
      }
    }
    return zeros == 0 ? 0 : ((1u << zeros) - 1 + u(zeros));
  }
  int32_t se() {
    uint32_t k = ue();
    return (k & 1) ? static_cast<int32_t>((k + 1) / 2) : -static_cast<int32_t>(k / 2);
  }
  void skip(size_t n) {
    for (size_t i = 0; i < n && !failed_; i++) bit();
  }
  bool failed() const { return failed_; }

 private:
  uint32_t bit() {
    if (pos_ >= d_.size() * 8) {
      failed_ = true;
      return 0;
    }
    uint32_t b = (d_[pos_ / 8] >> (7 - pos_ % 8)) & 1;
    pos_++;
    return b;
  }
  std::span<const uint8_t> d_;
  size_t pos_ = 0;
  bool failed_ = false;
};

template <typename T>
std::optional<T> fail(std::string *error, const std::string &why) {
  if (error) *error = why;
  return std::nullopt;
}

// Skips a scaling_list(); false when a delta_scale is outside [-128, 127] (7.4.2.1.1.1).
bool skip_h264_scaling_list(BitReader &br, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size; j++) {
    if (next != 0) {
      int32_t delta = br.se();
      if (delta < -128 || delta > 127) return false;
      next = (last + delta + 256) % 256;
    }
    last = next == 0 ? last : next;
    if (br.failed()) return true;
  }
  return true;
}

void put16(Bytes &b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

std::string hex2(uint8_t v) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02x", v);
  return buf;
}

}  // namespace

Bytes nal_to_rbsp(std::span<const uint8_t> nal) {
  Bytes out;
  out.reserve(nal.size());
  int zeros = 0;
  for (uint8_t b : nal) {
    if (zeros >= 2 && b == 3) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    out.push_back(b);
  }
  return out;
}

std::vector<std::span<const uint8_t>> split_annexb(std::span<const uint8_t> d) {
  std::vector<std::span<const uint8_t>> nals;
  size_t i = 0, start = SIZE_MAX;
  // A start code is 00 00 01: memchr finds each 01 byte (vectorised; a byte-by-byte scan of
  // every access unit was the fMP4 path's largest cost in user space), then the two bytes
  // before it are checked.
  while (i + 3 <= d.size()) {
    const void *one = std::memchr(d.data() + i + 2, 1, d.size() - i - 2);
    if (!one) break;
    size_t k = static_cast<const uint8_t *>(one) - d.data();  // k >= i + 2
    if (d[k - 1] != 0 || d[k - 2] != 0) {
      i = k - 1;  // the next candidate 01 is at k + 1 at the earliest
      continue;
    }
    i = k - 2;
    if (start != SIZE_MAX) {
      size_t end = i;
      while (end > start && d[end - 1] == 0) end--;  // trailing zero (4-byte start code)
      if (end > start) nals.push_back(d.subspan(start, end - start));
    }
    i += 3;
    start = i;
  }
  if (start != SIZE_MAX && start < d.size()) nals.push_back(d.subspan(start));
  return nals;
}

std::optional<H264Sps> parse_h264_sps(std::span<const uint8_t> nal, std::string *error) {
  if (nal.size() < 4) return fail<H264Sps>(error, "H.264 SPS: shorter than 4 bytes");
  if ((nal[0] & 0x1f) != 7)
    return fail<H264Sps>(
        error, "H.264 SPS: NAL unit type " + std::to_string(nal[0] & 0x1f) + ", expected 7");
  Bytes rbsp = nal_to_rbsp(nal.subspan(1));
  BitReader br(rbsp);
  H264Sps s;
  s.profile_idc = br.u(8);
  s.constraint_flags = br.u(8);
  s.level_idc = br.u(8);
  br.ue();  // seq_parameter_set_id
  uint32_t chroma = 1;
  bool separate_planes = false;
  switch (s.profile_idc) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135: {
      chroma = br.ue();
      if (chroma > 3) return fail<H264Sps>(error, "H.264 SPS: chroma_format_idc > 3");
      if (chroma == 3) separate_planes = br.u(1);
      br.ue();        // bit_depth_luma_minus8
      br.ue();        // bit_depth_chroma_minus8
      br.u(1);        // qpprime_y_zero_transform_bypass_flag
      if (br.u(1)) {  // seq_scaling_matrix_present_flag
        for (int i = 0; i < (chroma != 3 ? 8 : 12) && !br.failed(); i++)
          if (br.u(1) && !skip_h264_scaling_list(br, i < 6 ? 16 : 64))
            return fail<H264Sps>(error, "H.264 SPS: scaling list delta_scale out of range");
      }
      break;
    }
    default:
      break;
  }
  br.ue();  // log2_max_frame_num_minus4
  uint32_t poc_type = br.ue();
  if (poc_type == 0) {
    br.ue();
  } else if (poc_type == 1) {
    br.u(1);
    br.se();
    br.se();
    uint32_t n = br.ue();
    if (n > 255) return fail<H264Sps>(error, "H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle");
    for (uint32_t i = 0; i < n && !br.failed(); i++) br.se();
  }
  br.ue();  // max_num_ref_frames
  br.u(1);  // gaps_in_frame_num_value_allowed_flag
  uint32_t w_mbs = br.ue() + 1, h_units = br.ue() + 1;
  uint32_t frame_mbs_only = br.u(1);
  if (!frame_mbs_only) br.u(1);
  br.u(1);  // direct_8x8_inference_flag
  uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
  if (br.u(1)) {
    cl = br.ue();
    cr = br.ue();
    ct = br.ue();
    cb = br.ue();
  }
  if (br.failed()) return fail<H264Sps>(error, "H.264 SPS: truncated");
  uint32_t array_type = separate_planes ? 0 : chroma;
  uint32_t sub_w = (array_type == 1 || array_type == 2) ? 2 : 1;
  uint32_t sub_h = array_type == 1 ? 2 : 1;
  uint32_t unit_x = array_type == 0 ? 1 : sub_w;
  uint32_t unit_y = (array_type == 0 ? 1 : sub_h) * (2 - frame_mbs_only);
  uint64_t w = uint64_t{w_mbs} * 16, h = uint64_t{h_units} * 16 * (2 - frame_mbs_only);
  uint64_t crop_w = uint64_t{cl + cr} * unit_x, crop_h = uint64_t{ct + cb} * unit_y;
  if (w > 16384 || h > 16384 || crop_w >= w || crop_h >= h)
    return fail<H264Sps>(error, "H.264 SPS: picture size out of range");
  s.width = static_cast<uint32_t>(w - crop_w);
  s.height = static_cast<uint32_t>(h - crop_h);
  return s;
}

std::optional<H265Sps> parse_h265_sps(std::span<const uint8_t> nal, std::string *error) {
  if (nal.size() < 16) return fail<H265Sps>(error, "H.265 SPS: shorter than 16 bytes");
  if (((nal[0] >> 1) & 0x3f) != 33)
    return fail<H265Sps>(error, "H.265 SPS: NAL unit type " + std::to_string((nal[0] >> 1) & 0x3f) +
                                    ", expected 33");
  Bytes rbsp = nal_to_rbsp(nal.subspan(2));
  BitReader br(rbsp);
  H265Sps s;
  br.u(4);  // sps_video_parameter_set_id
  uint32_t max_sub_layers_minus1 = br.u(3);
  s.max_sub_layers = static_cast<uint8_t>(max_sub_layers_minus1 + 1);
  s.temporal_id_nesting = br.u(1);
  s.profile_space = br.u(2);
  s.tier_flag = br.u(1);
  s.profile_idc = br.u(5);
  s.compat_flags = br.u(32);
  for (auto &c : s.constraint) c = br.u(8);
  s.level_idc = br.u(8);
  bool profile_present[8] = {}, level_present[8] = {};
  for (uint32_t i = 0; i < max_sub_layers_minus1; i++) {
    profile_present[i] = br.u(1);
    level_present[i] = br.u(1);
  }
  if (max_sub_layers_minus1 > 0)
    for (uint32_t i = max_sub_layers_minus1; i < 8; i++) br.u(2);
  for (uint32_t i = 0; i < max_sub_layers_minus1; i++) {
    if (profile_present[i]) br.skip(88);
    if (level_present[i]) br.skip(8);
  }
  br.ue();  // sps_seq_parameter_set_id
  s.chroma_format_idc = static_cast<uint8_t>(br.ue());
  if (s.chroma_format_idc > 3) return fail<H265Sps>(error, "H.265 SPS: chroma_format_idc > 3");
  if (s.chroma_format_idc == 3) br.u(1);  // separate_colour_plane_flag
  uint32_t w = br.ue(), h = br.ue();
  uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
  if (br.u(1)) {
    cl = br.ue();
    cr = br.ue();
    ct = br.ue();
    cb = br.ue();
  }
  uint32_t luma = br.ue(), chroma = br.ue();
  if (br.failed()) return fail<H265Sps>(error, "H.265 SPS: truncated");
  if (luma > 8 || chroma > 8) return fail<H265Sps>(error, "H.265 SPS: bit depth out of range");
  s.bit_depth_luma = static_cast<uint8_t>(luma + 8);
  s.bit_depth_chroma = static_cast<uint8_t>(chroma + 8);
  uint32_t sub_w = (s.chroma_format_idc == 1 || s.chroma_format_idc == 2) ? 2 : 1;
  uint32_t sub_h = s.chroma_format_idc == 1 ? 2 : 1;
  uint64_t crop_w = uint64_t{cl + cr} * sub_w, crop_h = uint64_t{ct + cb} * sub_h;
  if (w == 0 || h == 0 || w > 16888 || h > 16888 || crop_w >= w || crop_h >= h)
    return fail<H265Sps>(error, "H.265 SPS: picture size out of range");
  s.width = static_cast<uint32_t>(w - crop_w);
  s.height = static_cast<uint32_t>(h - crop_h);
  return s;
}

std::optional<AacConfig> parse_audio_specific_config(std::span<const uint8_t> asc,
                                                     std::string *error) {
  static const uint32_t kRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                      22050, 16000, 12000, 11025, 8000,  7350};
  BitReader br(asc);
  AacConfig c;
  uint32_t aot = br.u(5);
  if (aot == 31) aot = 32 + br.u(6);
  uint32_t idx = br.u(4);
  if (idx == 15) {
    c.sample_rate = br.u(24);
  } else if (idx < 13) {
    c.sample_rate = kRates[idx];
  } else {
    return fail<AacConfig>(
        error, "AudioSpecificConfig: reserved samplingFrequencyIndex " + std::to_string(idx));
  }
  c.channels = static_cast<uint8_t>(br.u(4));
  if (br.failed()) return fail<AacConfig>(error, "AudioSpecificConfig: truncated");
  if (aot == 0) return fail<AacConfig>(error, "AudioSpecificConfig: audioObjectType 0");
  if (c.sample_rate == 0) return fail<AacConfig>(error, "AudioSpecificConfig: sample rate 0");
  c.object_type = static_cast<uint8_t>(aot);
  return c;
}

std::optional<Bytes> make_avcc(const std::vector<Bytes> &sps, const std::vector<Bytes> &pps,
                               std::string *error) {
  if (sps.empty() || pps.empty()) return fail<Bytes>(error, "avcC: needs an SPS and a PPS");
  if (sps.size() > 31 || pps.size() > 255) return fail<Bytes>(error, "avcC: too many SPS/PPS");
  auto first = parse_h264_sps(sps[0], error);
  if (!first) return std::nullopt;
  Bytes b = {1,
             first->profile_idc,
             first->constraint_flags,
             first->level_idc,
             0xFF,
             static_cast<uint8_t>(0xE0 | sps.size())};
  for (const auto &n : sps) {
    if (n.size() > 0xFFFF) return fail<Bytes>(error, "avcC: SPS longer than 65535 bytes");
    put16(b, static_cast<uint32_t>(n.size()));
    b.insert(b.end(), n.begin(), n.end());
  }
  b.push_back(static_cast<uint8_t>(pps.size()));
  for (const auto &n : pps) {
    if (n.size() > 0xFFFF) return fail<Bytes>(error, "avcC: PPS longer than 65535 bytes");
    put16(b, static_cast<uint32_t>(n.size()));
    b.insert(b.end(), n.begin(), n.end());
  }
  return b;
}

std::optional<Bytes> make_hvcc(const std::vector<Bytes> &vps, const std::vector<Bytes> &sps,
                               const std::vector<Bytes> &pps, std::string *error) {
  if (vps.empty() || sps.empty() || pps.empty())
    return fail<Bytes>(error, "hvcC: needs a VPS, an SPS and a PPS");
  auto s = parse_h265_sps(sps[0], error);
  if (!s) return std::nullopt;
  Bytes b;
  b.push_back(1);
  b.push_back(static_cast<uint8_t>(s->profile_space << 6 | s->tier_flag << 5 | s->profile_idc));
  for (int i = 3; i >= 0; i--) b.push_back(static_cast<uint8_t>(s->compat_flags >> (8 * i)));
  b.insert(b.end(), std::begin(s->constraint), std::end(s->constraint));
  b.push_back(s->level_idc);
  put16(b, 0xF000);   // min_spatial_segmentation_idc 0
  b.push_back(0xFC);  // parallelismType 0 (unknown)
  b.push_back(static_cast<uint8_t>(0xFC | s->chroma_format_idc));
  b.push_back(static_cast<uint8_t>(0xF8 | (s->bit_depth_luma - 8)));
  b.push_back(static_cast<uint8_t>(0xF8 | (s->bit_depth_chroma - 8)));
  put16(b, 0);  // avgFrameRate unspecified
  // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
  b.push_back(static_cast<uint8_t>((s->max_sub_layers & 7) << 3 | s->temporal_id_nesting << 2 | 3));
  b.push_back(3);  // numOfArrays
  const std::pair<uint8_t, const std::vector<Bytes> *> arrays[] = {
      {32, &vps}, {33, &sps}, {34, &pps}};
  for (const auto &[type, list] : arrays) {
    if (list->size() > 0xFFFF) return fail<Bytes>(error, "hvcC: too many parameter sets");
    b.push_back(static_cast<uint8_t>(0x80 | type));  // array_completeness 1
    put16(b, static_cast<uint32_t>(list->size()));
    for (const auto &n : *list) {
      if (n.size() > 0xFFFF) return fail<Bytes>(error, "hvcC: parameter set too long");
      put16(b, static_cast<uint32_t>(n.size()));
      b.insert(b.end(), n.begin(), n.end());
    }
  }
  return b;
}

std::optional<std::string> codec_string_avcc(std::span<const uint8_t> avcc, std::string *error) {
  if (avcc.size() < 4 || avcc[0] != 1)
    return fail<std::string>(error, "avcC: not a version 1 record");
  return "avc1." + hex2(avcc[1]) + hex2(avcc[2]) + hex2(avcc[3]);
}

std::optional<std::string> codec_string_hvcc(std::span<const uint8_t> hvcc, std::string *error) {
  if (hvcc.size() < 23 || hvcc[0] != 1)
    return fail<std::string>(error, "hvcC: not a version 1 record");
  uint8_t space = hvcc[1] >> 6, tier = (hvcc[1] >> 5) & 1, profile = hvcc[1] & 0x1f;
  uint32_t compat =
      uint32_t{hvcc[2]} << 24 | uint32_t{hvcc[3]} << 16 | uint32_t{hvcc[4]} << 8 | hvcc[5];
  uint32_t reversed = 0;
  for (int i = 0; i < 32; i++)
    if (compat & (1u << i)) reversed |= 1u << (31 - i);
  std::string out = "hvc1.";
  if (space > 0) out += static_cast<char>('A' + space - 1);
  out += std::to_string(profile);
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%X.", reversed);
  out += buf;
  out += tier ? 'H' : 'L';
  out += std::to_string(hvcc[12]);
  int last = 5;  // constraint bytes: trailing zero bytes are left out
  while (last >= 0 && hvcc[6 + last] == 0) last--;
  for (int i = 0; i <= last; i++) {
    std::snprintf(buf, sizeof buf, ".%X", hvcc[6 + i]);
    out += buf;
  }
  return out;
}

std::optional<std::string> codec_string_asc(std::span<const uint8_t> asc, std::string *error) {
  auto c = parse_audio_specific_config(asc, error);
  if (!c) return std::nullopt;
  return "mp4a.40." + std::to_string(c->object_type);
}

std::optional<H264Sps> avcc_sps(std::span<const uint8_t> avcc, std::string *error) {
  if (avcc.size() < 8 || avcc[0] != 1 || (avcc[5] & 0x1f) == 0)
    return fail<H264Sps>(error, "avcC: no SPS");
  size_t len = size_t{avcc[6]} << 8 | avcc[7];
  if (8 + len > avcc.size()) return fail<H264Sps>(error, "avcC: SPS length past the end");
  return parse_h264_sps(avcc.subspan(8, len), error);
}

std::optional<H265Sps> hvcc_sps(std::span<const uint8_t> hvcc, std::string *error) {
  if (hvcc.size() < 23 || hvcc[0] != 1) return fail<H265Sps>(error, "hvcC: not a record");
  size_t pos = 23, arrays = hvcc[22];
  for (size_t a = 0; a < arrays; a++) {
    if (pos + 3 > hvcc.size()) break;
    uint8_t type = hvcc[pos] & 0x3f;
    size_t n = size_t{hvcc[pos + 1]} << 8 | hvcc[pos + 2];
    pos += 3;
    for (size_t i = 0; i < n; i++) {
      if (pos + 2 > hvcc.size()) return fail<H265Sps>(error, "hvcC: truncated array");
      size_t len = size_t{hvcc[pos]} << 8 | hvcc[pos + 1];
      pos += 2;
      if (pos + len > hvcc.size()) return fail<H265Sps>(error, "hvcC: NAL length past the end");
      if (type == 33) return parse_h265_sps(hvcc.subspan(pos, len), error);
      pos += len;
    }
  }
  return fail<H265Sps>(error, "hvcC: no SPS");
}

}  // namespace iptv::cmaf
