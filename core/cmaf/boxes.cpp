#include "cmaf/boxes.h"

#include <cstring>

namespace iptv::cmaf {
namespace {

template <typename T>
std::optional<T> fail(std::string *error, const std::string &why) {
  if (error) *error = why;
  return std::nullopt;
}

// Big-endian writer with nested boxes whose sizes are patched when they close.
class Writer {
 public:
  void u8(uint32_t v) { b_.push_back(static_cast<uint8_t>(v)); }
  void u16(uint32_t v) {
    u8(v >> 8);
    u8(v);
  }
  void u24(uint32_t v) {
    u8(v >> 16);
    u16(v);
  }
  void u32(uint32_t v) {
    u16(v >> 16);
    u16(v);
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void zeros(size_t n) { b_.insert(b_.end(), n, 0); }
  void bytes(std::span<const uint8_t> d) { b_.insert(b_.end(), d.begin(), d.end()); }
  void fourcc(const char *t) { bytes({reinterpret_cast<const uint8_t *>(t), 4}); }
  void open(const char *type) {
    open_.push_back(b_.size());
    u32(0);
    fourcc(type);
  }
  void open_full(const char *type, uint8_t version, uint32_t flags) {
    open(type);
    u8(version);
    u24(flags);
  }
  void close() {
    size_t start = open_.back();
    open_.pop_back();
    patch32(start, static_cast<uint32_t>(b_.size() - start));
  }
  void patch32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b_[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
  size_t size() const { return b_.size(); }
  Bytes take() { return std::move(b_); }

 private:
  Bytes b_;
  std::vector<size_t> open_;
};

void matrix(Writer &w) {
  const uint32_t m[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
  for (uint32_t v : m) w.u32(v);
}

// ES descriptor lengths: the 4-byte form (as ffmpeg and GStreamer write it).
void descriptor(Writer &w, uint8_t tag, uint32_t len) {
  w.u8(tag);
  w.u8(0x80 | ((len >> 21) & 0x7f));
  w.u8(0x80 | ((len >> 14) & 0x7f));
  w.u8(0x80 | ((len >> 7) & 0x7f));
  w.u8(len & 0x7f);
}

void esds(Writer &w, const TrackConfig &t) {
  uint32_t asc = static_cast<uint32_t>(t.decoder_config.size());
  uint32_t dsi = 5 + asc, dcd = 13 + dsi, sl = 5 + 1, es = 3 + (5 + dcd) + sl;
  w.open_full("esds", 0, 0);
  descriptor(w, 0x03, es);
  w.u16(t.track_id);  // ES_ID
  w.u8(0);            // no dependsOn / URL / OCR
  descriptor(w, 0x04, dcd);
  w.u8(0x40);                // objectTypeIndication: MPEG-4 audio
  w.u8(0x05 << 2 | 1);       // streamType audio, upStream 0, reserved 1
  w.u24(0);                  // bufferSizeDB
  w.u32(0);                  // maxBitrate
  w.u32(0);                  // avgBitrate
  descriptor(w, 0x05, asc);  // DecoderSpecificInfo
  w.bytes(t.decoder_config);
  descriptor(w, 0x06, 1);  // SLConfigDescriptor
  w.u8(0x02);
  w.close();
}

void sample_entry(Writer &w, const TrackConfig &t) {
  w.open(t.fourcc.c_str());
  w.zeros(6);
  w.u16(1);  // data_reference_index
  if (t.kind == TrackKind::kVideo) {
    w.zeros(16);  // pre_defined, reserved, pre_defined[3]
    w.u16(t.width);
    w.u16(t.height);
    w.u32(0x00480000);  // 72 dpi
    w.u32(0x00480000);
    w.u32(0);
    w.u16(1);     // frame_count
    w.zeros(32);  // compressorname
    w.u16(0x0018);
    w.u16(0xFFFF);  // pre_defined -1
    w.open(t.fourcc == "avc1" ? "avcC" : "hvcC");
    w.bytes(t.decoder_config);
    w.close();
  } else {
    w.zeros(8);
    w.u16(t.channels);
    w.u16(16);  // samplesize
    w.zeros(4);
    w.u32(t.sample_rate > 0xFFFF ? 0 : t.sample_rate << 16);
    esds(w, t);
  }
  w.close();
}

uint16_t be16(std::span<const uint8_t> d, size_t at) {
  return uint16_t(d[at] << 8 | d[at + 1]);
}
uint32_t be32(std::span<const uint8_t> d, size_t at) {
  return uint32_t{d[at]} << 24 | uint32_t{d[at + 1]} << 16 | uint32_t{d[at + 2]} << 8 | d[at + 3];
}
uint64_t be64(std::span<const uint8_t> d, size_t at) {
  return uint64_t{be32(d, at)} << 32 | be32(d, at + 4);
}

const Box *find(const std::vector<Box> &boxes, const char *type) {
  for (const auto &b : boxes)
    if (b.type == type) return &b;
  return nullptr;
}

// The children of `parent` (skipping `skip` bytes of its payload first), or an error naming the
// path.
std::optional<std::vector<Box>> children(const Box &parent, size_t skip, std::string *error) {
  auto p = parent.payload();
  if (p.size() < skip) return fail<std::vector<Box>>(error, parent.type + ": too short");
  std::string why;
  auto kids = read_boxes(p.subspan(skip), &why);
  if (!kids) return fail<std::vector<Box>>(error, parent.type + "/" + why);
  return kids;
}

// Walks a path of container boxes ("moov/trak/mdia").
const Box *need(const std::vector<Box> &boxes, const char *type, const std::string &where,
                std::string *error) {
  const Box *b = find(boxes, type);
  if (!b && error) *error = where + ": no " + type + " box";
  return b;
}

// Reads the ES descriptor tree in esds down to the DecoderSpecificInfo.
std::optional<Bytes> esds_asc(std::span<const uint8_t> p, std::string *error) {
  size_t pos = 4;  // version + flags
  auto read_desc = [&](uint8_t &tag, uint32_t &len) {
    if (pos >= p.size()) return false;
    tag = p[pos++];
    len = 0;
    for (int i = 0; i < 4; i++) {
      if (pos >= p.size()) return false;
      uint8_t c = p[pos++];
      len = len << 7 | (c & 0x7f);
      if (!(c & 0x80)) break;
    }
    return len <= p.size() - pos;
  };
  uint8_t tag;
  uint32_t len;
  if (!read_desc(tag, len) || tag != 0x03) return fail<Bytes>(error, "esds: no ES_Descriptor");
  if (pos + 3 > p.size()) return fail<Bytes>(error, "esds: ES_Descriptor truncated");
  uint8_t flags = p[pos + 2];
  pos += 3;
  if (flags & 0x80) pos += 2;  // dependsOn_ES_ID
  if (flags & 0x40) {          // URL
    if (pos >= p.size()) return fail<Bytes>(error, "esds: URL truncated");
    pos += 1 + p[pos];
  }
  if (flags & 0x20) pos += 2;  // OCR_ES_Id
  if (!read_desc(tag, len) || tag != 0x04)
    return fail<Bytes>(error, "esds: no DecoderConfigDescriptor");
  if (len < 13 || p[pos] != 0x40)
    return fail<Bytes>(error, "esds: objectTypeIndication is not MPEG-4 audio");
  pos += 13;
  if (!read_desc(tag, len) || tag != 0x05)
    return fail<Bytes>(error, "esds: no DecoderSpecificInfo");
  return Bytes(p.begin() + pos, p.begin() + pos + len);
}

}  // namespace

std::span<const uint8_t> Box::payload() const {
  return buffer.subspan(offset + header_size, size - header_size);
}

std::optional<std::string> codec_string(const TrackConfig &t, std::string *error) {
  if (t.fourcc == "avc1") return codec_string_avcc(t.decoder_config, error);
  if (t.fourcc == "hvc1") return codec_string_hvcc(t.decoder_config, error);
  if (t.fourcc == "mp4a") return codec_string_asc(t.decoder_config, error);
  return fail<std::string>(error, "sample entry '" + t.fourcc + "' is not avc1, hvc1 or mp4a");
}

std::optional<Bytes> write_init_segment(const TrackConfig &t, std::string *error) {
  if (!codec_string(t, error)) return std::nullopt;
  bool video = t.kind == TrackKind::kVideo;
  if (video != (t.fourcc != "mp4a"))
    return fail<Bytes>(error, "sample entry '" + t.fourcc + "' does not match the track kind");
  if (video && (t.width == 0 || t.height == 0 || t.width > 0xFFFF || t.height > 0xFFFF))
    return fail<Bytes>(error, "video track without a valid width and height");
  if (!video && (t.sample_rate == 0 || t.channels == 0 || t.channels > 0xFFFF))
    return fail<Bytes>(error, "audio track without a sample rate and channel count");
  if (t.timescale == 0 || t.track_id == 0) return fail<Bytes>(error, "timescale or track_id 0");
  if (t.language.size() != 3)
    return fail<Bytes>(error, "language '" + t.language + "' is not 3 letters");
  uint16_t lang = 0;
  for (char c : t.language) {
    if (c < 'a' || c > 'z')
      return fail<Bytes>(error, "language '" + t.language + "' is not lower-case a-z");
    lang = static_cast<uint16_t>(lang << 5 | (c - 0x60));
  }

  Writer w;
  w.open("ftyp");
  w.fourcc("iso6");
  w.u32(0);
  for (const char *brand : {"iso6", "cmfc", "mp41", "dash"}) w.fourcc(brand);
  w.close();

  w.open("moov");
  w.open_full("mvhd", 0, 0);
  w.u32(0);  // creation_time
  w.u32(0);  // modification_time
  w.u32(1000);
  w.u32(0);  // duration: unknown (fragmented)
  w.u32(0x00010000);
  w.u16(0x0100);
  w.zeros(10);
  matrix(w);
  w.zeros(24);
  w.u32(t.track_id + 1);  // next_track_ID
  w.close();

  w.open("trak");
  w.open_full("tkhd", 0, 3);  // enabled, in movie
  w.u32(0);
  w.u32(0);
  w.u32(t.track_id);
  w.u32(0);
  w.u32(0);  // duration
  w.zeros(8);
  w.u16(0);                   // layer
  w.u16(0);                   // alternate_group
  w.u16(video ? 0 : 0x0100);  // volume
  w.u16(0);
  matrix(w);
  w.u32(video ? t.width << 16 : 0);
  w.u32(video ? t.height << 16 : 0);
  w.close();

  w.open("mdia");
  w.open_full("mdhd", 0, 0);
  w.u32(0);
  w.u32(0);
  w.u32(t.timescale);
  w.u32(0);
  w.u16(lang);
  w.u16(0);
  w.close();
  w.open_full("hdlr", 0, 0);
  w.u32(0);
  w.fourcc(video ? "vide" : "soun");
  w.zeros(12);
  const char *name = video ? "VideoHandler" : "SoundHandler";
  w.bytes({reinterpret_cast<const uint8_t *>(name), std::strlen(name) + 1});
  w.close();
  w.open("minf");
  if (video) {
    w.open_full("vmhd", 0, 1);
    w.zeros(8);
  } else {
    w.open_full("smhd", 0, 0);
    w.zeros(4);
  }
  w.close();
  w.open("dinf");
  w.open_full("dref", 0, 0);
  w.u32(1);
  w.open_full("url ", 0, 1);  // media in the same file
  w.close();
  w.close();
  w.close();
  w.open("stbl");
  w.open_full("stsd", 0, 0);
  w.u32(1);
  sample_entry(w, t);
  w.close();
  for (const char *empty : {"stts", "stsc", "stco"}) {
    w.open_full(empty, 0, 0);
    w.u32(0);
    w.close();
  }
  w.open_full("stsz", 0, 0);
  w.u32(0);
  w.u32(0);
  w.close();
  w.close();  // stbl
  w.close();  // minf
  w.close();  // mdia
  w.close();  // trak

  w.open("mvex");
  w.open_full("trex", 0, 0);
  w.u32(t.track_id);
  w.u32(1);  // default_sample_description_index
  w.u32(0);
  w.u32(0);
  w.u32(0);
  w.close();
  w.close();  // mvex
  w.close();  // moov
  return w.take();
}

std::optional<Bytes> write_media_segment(uint32_t sequence_number, uint32_t track_id,
                                         uint64_t base_decode_time, std::span<const Sample> samples,
                                         std::span<const uint8_t> payload, std::string *error) {
  if (samples.empty()) return fail<Bytes>(error, "media segment without samples");
  uint64_t total = 0;
  for (const auto &s : samples) total += s.size;
  if (total != payload.size())
    return fail<Bytes>(error, "sample sizes add up to " + std::to_string(total) +
                                  " bytes, mdat has " + std::to_string(payload.size()));
  if (payload.size() > 0xFFFFFFFFull - 8) return fail<Bytes>(error, "mdat larger than 4 GiB");
  Writer w;
  w.open("moof");
  w.open_full("mfhd", 0, 0);
  w.u32(sequence_number);
  w.close();
  w.open("traf");
  w.open_full("tfhd", 0, 0x020000);  // default-base-is-moof
  w.u32(track_id);
  w.close();
  w.open_full("tfdt", 1, 0);
  w.u64(base_decode_time);
  w.close();
  // data-offset, sample duration, size, flags, composition time offset (signed: version 1)
  w.open_full("trun", 1, 0x000F01);
  w.u32(static_cast<uint32_t>(samples.size()));
  size_t data_offset_at = w.size();
  w.u32(0);
  for (const auto &s : samples) {
    w.u32(s.duration);
    w.u32(s.size);
    w.u32(s.flags);
    w.u32(static_cast<uint32_t>(s.composition_offset));
  }
  w.close();
  w.close();  // traf
  w.close();  // moof
  w.patch32(data_offset_at, static_cast<uint32_t>(w.size() + 8));
  w.u32(static_cast<uint32_t>(payload.size() + 8));
  w.fourcc("mdat");
  w.bytes(payload);
  return w.take();
}

std::optional<std::vector<Box>> read_boxes(std::span<const uint8_t> data, std::string *error) {
  std::vector<Box> out;
  uint64_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 8)
      return fail<std::vector<Box>>(error,
                                    "box header at offset " + std::to_string(pos) + " truncated");
    Box b;
    b.buffer = data;
    b.offset = pos;
    b.size = be32(data, pos);
    b.type.assign(reinterpret_cast<const char *>(data.data() + pos + 4), 4);
    if (b.size == 1) {
      if (data.size() - pos < 16)
        return fail<std::vector<Box>>(
            error, b.type + " at offset " + std::to_string(pos) + ": 64-bit size truncated");
      b.size = be64(data, pos + 8);
      b.header_size = 16;
    } else if (b.size == 0) {
      b.size = data.size() - pos;  // to the end of the buffer
    }
    if (b.size < b.header_size || b.size > data.size() - pos)
      return fail<std::vector<Box>>(
          error, b.type + " at offset " + std::to_string(pos) + ": size " + std::to_string(b.size) +
                     " does not fit in " + std::to_string(data.size() - pos) + " bytes");
    pos += b.size;
    out.push_back(std::move(b));
  }
  return out;
}

std::optional<InitInfo> read_init_segment(std::span<const uint8_t> data, std::string *error) {
  auto top = read_boxes(data, error);
  if (!top) return std::nullopt;
  if (top->empty() || top->front().type != "ftyp")
    return fail<InitInfo>(error, "init segment does not start with ftyp");
  const Box *moov = need(*top, "moov", "init segment", error);
  if (!moov) return std::nullopt;
  auto mk = children(*moov, 0, error);
  if (!mk) return std::nullopt;
  InitInfo info;
  int traks = 0;
  for (const auto &b : *mk) traks += b.type == "trak";
  if (traks != 1)
    return fail<InitInfo>(error, "moov has " + std::to_string(traks) + " trak boxes, CMAF wants 1");
  if (const Box *mvex = find(*mk, "mvex")) {
    auto vk = children(*mvex, 0, error);
    if (!vk) return std::nullopt;
    info.has_trex = find(*vk, "trex") != nullptr;
  }
  auto tk = children(*find(*mk, "trak"), 0, error);
  if (!tk) return std::nullopt;
  const Box *tkhd = need(*tk, "tkhd", "moov/trak", error);
  const Box *mdia = tkhd ? need(*tk, "mdia", "moov/trak", error) : nullptr;
  if (!mdia) return std::nullopt;
  auto th = tkhd->payload();
  if (th.size() < 24) return fail<InitInfo>(error, "tkhd: too short");
  info.track.track_id = be32(th, th[0] == 1 ? 20 : 12);
  auto dk = children(*mdia, 0, error);
  if (!dk) return std::nullopt;
  const Box *mdhd = need(*dk, "mdhd", "moov/trak/mdia", error);
  const Box *hdlr = mdhd ? need(*dk, "hdlr", "moov/trak/mdia", error) : nullptr;
  const Box *minf = hdlr ? need(*dk, "minf", "moov/trak/mdia", error) : nullptr;
  if (!minf) return std::nullopt;
  auto mh = mdhd->payload();
  size_t ts_at = (mh.size() > 0 && mh[0] == 1) ? 20 : 12;
  if (mh.size() < ts_at + 4) return fail<InitInfo>(error, "mdhd: too short");
  info.track.timescale = be32(mh, ts_at);
  if (info.track.timescale == 0) return fail<InitInfo>(error, "mdhd: timescale 0");
  size_t lang_at = ts_at + (mh[0] == 1 ? 12 : 8);
  if (mh.size() >= lang_at + 2) {
    uint16_t l = be16(mh, lang_at);
    std::string lang;
    for (int sh : {10, 5, 0}) lang += static_cast<char>(((l >> sh) & 0x1f) + 0x60);
    info.track.language = lang;
  }
  auto hp = hdlr->payload();
  if (hp.size() < 12) return fail<InitInfo>(error, "hdlr: too short");
  info.handler.assign(reinterpret_cast<const char *>(hp.data() + 8), 4);
  auto nk = children(*minf, 0, error);
  if (!nk) return std::nullopt;
  const Box *stbl = need(*nk, "stbl", "moov/trak/mdia/minf", error);
  if (!stbl) return std::nullopt;
  auto sk = children(*stbl, 0, error);
  if (!sk) return std::nullopt;
  const Box *stsd = need(*sk, "stsd", "moov/trak/mdia/minf/stbl", error);
  if (!stsd) return std::nullopt;
  auto entries = children(*stsd, 8, error);
  if (!entries) return std::nullopt;
  if (entries->size() != 1)
    return fail<InitInfo>(error,
                          "stsd has " + std::to_string(entries->size()) + " entries, wants 1");
  const Box &e = entries->front();
  info.track.fourcc = e.type;
  auto ep = e.payload();
  if (e.type == "avc1" || e.type == "hvc1" || e.type == "avc3" || e.type == "hev1") {
    if (info.handler != "vide")
      return fail<InitInfo>(error, "stsd: " + e.type + " in a '" + info.handler + "' track");
    info.track.kind = TrackKind::kVideo;
    if (ep.size() < 78) return fail<InitInfo>(error, e.type + ": visual sample entry too short");
    info.track.width = be16(ep, 24);
    info.track.height = be16(ep, 26);
    auto cfg = children(e, 78, error);
    if (!cfg) return std::nullopt;
    const char *want = (e.type == "avc1" || e.type == "avc3") ? "avcC" : "hvcC";
    const Box *c = need(*cfg, want, "stsd/" + e.type, error);
    if (!c) return std::nullopt;
    auto cp = c->payload();
    info.track.decoder_config.assign(cp.begin(), cp.end());
    auto codecs = want[0] == 'a' ? codec_string_avcc(cp, error) : codec_string_hvcc(cp, error);
    if (!codecs) return std::nullopt;
    info.codecs = *codecs;
    info.codecs.replace(0, 4, e.type);
  } else if (e.type == "mp4a") {
    if (info.handler != "soun")
      return fail<InitInfo>(error, "stsd: mp4a in a '" + info.handler + "' track");
    info.track.kind = TrackKind::kAudio;
    if (ep.size() < 28) return fail<InitInfo>(error, "mp4a: audio sample entry too short");
    info.track.channels = be16(ep, 16);
    info.track.sample_rate = be32(ep, 24) >> 16;
    auto cfg = children(e, 28, error);
    if (!cfg) return std::nullopt;
    const Box *c = need(*cfg, "esds", "stsd/mp4a", error);
    if (!c) return std::nullopt;
    auto asc = esds_asc(c->payload(), error);
    if (!asc) return std::nullopt;
    info.track.decoder_config = *asc;
    auto codecs = codec_string_asc(*asc, error);
    if (!codecs) return std::nullopt;
    info.codecs = *codecs;
  } else {
    return fail<InitInfo>(error, "stsd: sample entry '" + e.type + "' is not avc1, hvc1 or mp4a");
  }
  return info;
}

uint64_t FragmentInfo::duration() const {
  uint64_t d = 0;
  for (const auto &s : samples) d += s.duration;
  return d;
}

std::optional<std::vector<FragmentInfo>> read_media_segment(std::span<const uint8_t> data,
                                                            std::string *error) {
  using Out = std::vector<FragmentInfo>;
  auto top = read_boxes(data, error);
  if (!top) return std::nullopt;
  Out out;
  for (size_t i = 0; i < top->size(); i++) {
    const Box &moof = (*top)[i];
    if (moof.type != "moof") continue;
    if (i + 1 >= top->size() || (*top)[i + 1].type != "mdat")
      return fail<Out>(
          error, "moof at offset " + std::to_string(moof.offset) + " is not followed by mdat");
    const Box &mdat = (*top)[i + 1];
    std::string where = "moof at offset " + std::to_string(moof.offset);
    auto mk = children(moof, 0, error);
    if (!mk) return std::nullopt;
    FragmentInfo f;
    const Box *mfhd = need(*mk, "mfhd", where, error);
    if (!mfhd) return std::nullopt;
    if (mfhd->payload().size() < 8) return fail<Out>(error, where + ": mfhd too short");
    f.sequence_number = be32(mfhd->payload(), 4);
    int trafs = 0;
    for (const auto &b : *mk) trafs += b.type == "traf";
    if (trafs != 1)
      return fail<Out>(error, where + ": " + std::to_string(trafs) + " traf boxes, CMAF wants 1");
    auto tk = children(*find(*mk, "traf"), 0, error);
    if (!tk) return std::nullopt;
    const Box *tfhd = need(*tk, "tfhd", where + "/traf", error);
    const Box *tfdt = tfhd ? need(*tk, "tfdt", where + "/traf", error) : nullptr;
    const Box *trun = tfdt ? need(*tk, "trun", where + "/traf", error) : nullptr;
    if (!trun) return std::nullopt;
    auto hp = tfhd->payload();
    if (hp.size() < 8) return fail<Out>(error, where + ": tfhd too short");
    uint32_t tf_flags = be32(hp, 0) & 0xFFFFFF;
    f.track_id = be32(hp, 4);
    size_t hpos = 8;
    uint64_t base = moof.offset;  // default-base-is-moof (and the moof when nothing is said)
    if (tf_flags & 0x1) {
      if (hp.size() < hpos + 8)
        return fail<Out>(error, where + ": tfhd base_data_offset truncated");
      base = be64(hp, hpos);
      hpos += 8;
    }
    uint32_t def_duration = 0, def_size = 0, def_flags = 0;
    if (tf_flags & 0x2) hpos += 4;
    if (hp.size() < hpos + 4 * ((tf_flags >> 3 & 1) + (tf_flags >> 4 & 1) + (tf_flags >> 5 & 1)))
      return fail<Out>(error, where + ": tfhd defaults truncated");
    if (tf_flags & 0x8) def_duration = be32(hp, hpos), hpos += 4;
    if (tf_flags & 0x10) def_size = be32(hp, hpos), hpos += 4;
    if (tf_flags & 0x20) def_flags = be32(hp, hpos), hpos += 4;
    auto dp = tfdt->payload();
    if (dp.size() < 8 || (dp[0] == 1 && dp.size() < 12))
      return fail<Out>(error, where + ": tfdt too short");
    f.base_decode_time = dp[0] == 1 ? be64(dp, 4) : be32(dp, 4);
    auto rp = trun->payload();
    if (rp.size() < 8) return fail<Out>(error, where + ": trun too short");
    uint32_t r_flags = be32(rp, 0) & 0xFFFFFF;
    uint32_t count = be32(rp, 4);
    size_t rpos = 8;
    int64_t data_offset = 0;
    if (r_flags & 0x1) {
      if (rp.size() < rpos + 4) return fail<Out>(error, where + ": trun data_offset truncated");
      data_offset = static_cast<int32_t>(be32(rp, rpos));
      rpos += 4;
    }
    uint32_t first_flags = def_flags;
    bool has_first = r_flags & 0x4;
    if (has_first) {
      if (rp.size() < rpos + 4)
        return fail<Out>(error, where + ": trun first_sample_flags truncated");
      first_flags = be32(rp, rpos);
      rpos += 4;
    }
    size_t per =
        4 * ((r_flags >> 8 & 1) + (r_flags >> 9 & 1) + (r_flags >> 10 & 1) + (r_flags >> 11 & 1));
    if (per != 0 ? count > (rp.size() - rpos) / per : count > mdat.size)
      return fail<Out>(error, where + ": trun sample_count " + std::to_string(count) +
                                  " does not fit in the box");
    f.samples.reserve(count);
    uint64_t total = 0;
    for (uint32_t s = 0; s < count; s++) {
      Sample smp{def_duration, def_size, s == 0 && has_first ? first_flags : def_flags, 0};
      if (r_flags & 0x100) smp.duration = be32(rp, rpos), rpos += 4;
      if (r_flags & 0x200) smp.size = be32(rp, rpos), rpos += 4;
      if (r_flags & 0x400) smp.flags = be32(rp, rpos), rpos += 4;
      if (r_flags & 0x800) smp.composition_offset = static_cast<int32_t>(be32(rp, rpos)), rpos += 4;
      total += smp.size;
      f.samples.push_back(smp);
    }
    int64_t start = static_cast<int64_t>(base) + data_offset;
    uint64_t payload_at = mdat.offset + mdat.header_size;
    uint64_t payload_end = mdat.offset + mdat.size;
    if (start < 0 || static_cast<uint64_t>(start) < payload_at ||
        static_cast<uint64_t>(start) > payload_end || total > payload_end - start)
      return fail<Out>(error, where + ": samples (" + std::to_string(total) + " bytes at offset " +
                                  std::to_string(start) + ") lie outside the following mdat");
    f.data_offset = static_cast<uint64_t>(start);
    f.mdat_payload_size = mdat.size - mdat.header_size;
    out.push_back(std::move(f));
    i++;
  }
  if (out.empty()) return fail<Out>(error, "media segment without moof");
  return out;
}

}  // namespace iptv::cmaf
