#include "worker/pipeline_builder.h"

#include <algorithm>

#include "worker/source.h"
#include "worker/thumbnail.h"

namespace iptv::worker {

namespace {

GstElement *make(const char *factory, const char *name = nullptr) {
  return gst_element_factory_make(factory, name);
}

// iptvhlssink in the segment format of spec.hls, set before any pad is requested (the element
// builds its pads for one format): fmp4 with manifest.mpd when dash, and the audio rendition's
// language and name; and the low-latency part duration (fMP4 or MPEG-TS parts).
GstElement *make_sink(const WorkerSpec &spec) {
  GstElement *s = make("iptvhlssink", "hls");
  if (!s) return s;
  if (spec.hls.part_seconds > 0) g_object_set(s, "part-duration", spec.hls.part_seconds, nullptr);
  if (spec.hls.segment_format != "fmp4") return s;
  gst_util_set_object_arg(G_OBJECT(s), "segment-format", "fmp4");
  g_object_set(s, "manifests", spec.hls.dash ? "hls,dash" : "hls", "audio-language",
               spec.hls.audio_language.c_str(), nullptr);
  if (!spec.hls.audio_name.empty())
    g_object_set(s, "audio-name", spec.hls.audio_name.c_str(), nullptr);
  return s;
}

bool build_transcode(const WorkerSpec &spec, OutputElements &o, std::string &error) {
  GstBin *bin = GST_BIN(o.pipeline);
  o.vcaps = raw_video_caps(spec);
  o.acaps = raw_audio_caps(spec);
  o.vsrc = make("appsrc", "vin");
  o.asrc = make("appsrc", "ain");
  GstElement *vq = make("queue"), *aconv = make("audioconvert");
  GstElement *aenc = make("avenc_aac");
  if (!aenc) aenc = make("voaacenc");
  GstElement *aparse = make("aacparse"), *aq2 = make("queue");
  o.ladder = make("iptvabrladder", "ladder");
  o.hlssink = make_sink(spec);
  std::string missing;
  for (auto [e, n] : {std::pair{o.vsrc, "appsrc"},
                      {aenc, "avenc_aac/voaacenc"},
                      {aparse, "aacparse"},
                      {o.ladder, "iptvabrladder"},
                      {o.hlssink, "iptvhlssink"}})
    if (!e) missing += std::string(missing.empty() ? "" : ", ") + n;
  if (!missing.empty()) {
    error = "missing elements: " + missing;
    return false;
  }
  gst_object_ref(o.vsrc);
  gst_object_ref(o.asrc);
  gst_object_ref(o.ladder);
  gst_object_ref(o.hlssink);
  for (GstElement *e : {o.vsrc, o.asrc})
    g_object_set(e, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE, "max-bytes",
                 (guint64)256 * 1024 * 1024, "block", FALSE, nullptr);
  g_object_set(o.vsrc, "caps", o.vcaps, nullptr);
  g_object_set(o.asrc, "caps", o.acaps, nullptr);
  g_object_set(aenc, "bitrate", spec.audio_kbps * 1000, nullptr);
  std::string profiles;
  for (const auto &p : spec.profiles) {
    if (!profiles.empty()) profiles += ",";
    profiles += ladder_profile(p);
    o.renditions.push_back(p.name);
  }
  g_object_set(o.ladder, "profiles", profiles.c_str(), "keyframe-interval", spec.keyframe_seconds,
               "preset", spec.preset.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(o.ladder), "encoder", spec.encoder.c_str());
  gst_bin_add_many(bin, o.vsrc, vq, o.ladder, o.asrc, aconv, aenc, aparse, aq2, o.hlssink, nullptr);
  if (!gst_element_link_many(o.vsrc, vq, o.ladder, nullptr) ||
      !gst_element_link_many(o.asrc, aconv, aenc, aparse, aq2, nullptr)) {
    error = "cannot link the encoders";
    return false;
  }
  for (size_t i = 0; i < o.renditions.size(); ++i) {
    std::string src = "src_" + std::to_string(i), sink = "video_" + std::to_string(i);
    GstElement *q = make("queue");
    gst_bin_add(bin, q);
    if (!gst_element_link_pads(o.ladder, src.c_str(), q, "sink") ||
        !gst_element_link_pads(q, "src", o.hlssink, sink.c_str())) {
      error = "cannot link rendition " + o.renditions[i];
      return false;
    }
  }
  if (!gst_element_link_pads(aq2, "src", o.hlssink, "audio")) {
    error = "cannot link the audio";
    return false;
  }
  // The thumbnail takes the raw video the ladder gets: no second decode.
  if (!spec.thumbnail.path.empty())
    o.thumbnail_error = add_thumbnail_branch(bin, vq, o.ladder, spec.thumbnail, false);
  return true;
}

// Passthrough: appsrc ! capsfilter ! iptvhlssink, per stream. The inputs' tails parsed the
// streams already (h264parse config-interval=-1, aacparse: byte-stream/au H.264 with SPS/PPS at
// every keyframe, ADTS AAC) and the worker pushes their caps with the first buffer and on every
// real change, so a second parser here would only parse everything again; the appsrcs' own
// streaming threads feed the sink, so no queue either (each was a thread hop per buffer; see
// docs/benchmarks.md, channel density).
// fMP4 carries the AAC raw with codec_data: there aacparse converts the ADTS the inputs hand
// over (the one parser left on this path).
bool build_passthrough(const WorkerSpec &spec, OutputElements &o, std::string &error) {
  GstBin *bin = GST_BIN(o.pipeline);
  o.vsrc = make("appsrc", "vin");
  o.asrc = make("appsrc", "ain");
  o.hlssink = make_sink(spec);
  GstElement *vcf = make("capsfilter"), *acf = make("capsfilter");
  bool fmp4 = spec.hls.segment_format == "fmp4";
  GstElement *aparse = fmp4 ? make("aacparse") : nullptr;
  GstElement *rawcf = fmp4 ? make("capsfilter") : nullptr;
  if (!o.vsrc || !o.asrc || !vcf || !acf || !o.hlssink || (fmp4 && (!aparse || !rawcf))) {
    error = std::string("missing elements:") + (o.vsrc ? "" : " appsrc") +
            (vcf ? "" : " capsfilter") + (o.hlssink ? "" : " iptvhlssink");
    return false;
  }
  gst_object_ref(o.vsrc);
  gst_object_ref(o.asrc);
  gst_object_ref(o.hlssink);
  for (GstElement *e : {o.vsrc, o.asrc})
    g_object_set(e, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE, "max-bytes",
                 (guint64)64 * 1024 * 1024, "block", FALSE, nullptr);
  // H.264 or H.265 (the source decides), byte-stream access units either way.
  GstCaps *vc = gst_caps_from_string(
      "video/x-h264, stream-format=byte-stream, alignment=au; "
      "video/x-h265, stream-format=byte-stream, alignment=au");
  GstCaps *ac = gst_caps_from_string("audio/mpeg, mpegversion=4, stream-format=adts");
  g_object_set(vcf, "caps", vc, nullptr);
  g_object_set(acf, "caps", ac, nullptr);
  gst_caps_unref(vc);
  gst_caps_unref(ac);
  o.renditions.push_back("source");
  gst_bin_add_many(bin, o.vsrc, vcf, o.asrc, acf, o.hlssink, nullptr);
  GstElement *atail = acf;
  if (fmp4) {
    GstCaps *raw = gst_caps_from_string("audio/mpeg, mpegversion=4, stream-format=raw");
    g_object_set(rawcf, "caps", raw, nullptr);
    gst_caps_unref(raw);
    gst_bin_add_many(bin, aparse, rawcf, nullptr);
    if (!gst_element_link_many(acf, aparse, rawcf, nullptr)) {
      error = "cannot link the AAC conversion for fMP4";
      return false;
    }
    atail = rawcf;
  }
  if (!gst_element_link(o.vsrc, vcf) || !gst_element_link(o.asrc, acf) ||
      !gst_element_link_pads(vcf, "src", o.hlssink, "video_0") ||
      !gst_element_link_pads(atail, "src", o.hlssink, "audio")) {
    error = "cannot link the remux";
    return false;
  }
  // The thumbnail decodes one keyframe per interval of the parsed H.264 (the inputs' tails
  // parsed it: SPS/PPS at every keyframe).
  if (!spec.thumbnail.path.empty())
    o.thumbnail_error = add_thumbnail_branch(bin, vcf, o.hlssink, spec.thumbnail, true);
  return true;
}

// iptvhlssink from spec.hls: folder, rendition names, window, playlist type, sequence mode.
void configure_sink(const WorkerSpec &spec, const OutputElements &o) {
  std::string names;
  for (const auto &r : o.renditions) names += (names.empty() ? "" : ",") + r;
  g_mkdir_with_parents(spec.hls.dir.c_str(), 0755);
  g_object_set(o.hlssink, "location", spec.hls.dir.c_str(), "rendition-names", names.c_str(),
               "target-duration", spec.hls.segment_seconds, "playlist-length",
               (guint)std::max(1, spec.hls.window), "dvr-seconds", spec.hls.dvr_seconds,
               "channel-id", spec.channel_id.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(o.hlssink), "playlist-type", spec.hls.playlist_type.c_str());
  gst_util_set_object_arg(G_OBJECT(o.hlssink), "sequence-mode", spec.hls.sequence_mode.c_str());
  if (spec.hls.key_rotation > 0)
    g_object_set(o.hlssink, "key-rotation", (guint)spec.hls.key_rotation, "key-uri-format",
                 spec.hls.key_uri_format.c_str(), nullptr);
  if (spec.hls.sequence_mode == "counter")
    g_object_set(o.hlssink, "state-file", (spec.hls.dir + "/state.json").c_str(), nullptr);
}

}  // namespace

bool build_output_pipeline(const WorkerSpec &spec, OutputElements &out, std::string &error) {
  out.pipeline = gst_pipeline_new("output");
  GstClock *clock = gst_system_clock_obtain();
  gst_pipeline_use_clock(GST_PIPELINE(out.pipeline), clock);
  gst_object_unref(clock);
  bool passthrough = spec.mode == "passthrough";
  if (!(passthrough ? build_passthrough(spec, out, error) : build_transcode(spec, out, error)))
    return false;
  configure_sink(spec, out);
  return true;
}

void add_sink_taps(const OutputElements &out, SinkTaps taps) {
  struct Ctx {
    std::function<void(size_t, GstPad *, GstBuffer *)> video;
    size_t index;
  };
  for (size_t i = 0; taps.video && i < out.renditions.size(); ++i) {
    std::string pad_name = "video_" + std::to_string(i);
    GstPad *pad = gst_element_get_static_pad(out.hlssink, pad_name.c_str());
    if (!pad) continue;
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *pad, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          auto *c = static_cast<Ctx *>(d);
          c->video(c->index, pad, GST_PAD_PROBE_INFO_BUFFER(info));
          return GST_PAD_PROBE_OK;
        },
        new Ctx{taps.video, i}, [](gpointer d) { delete static_cast<Ctx *>(d); });
    gst_object_unref(pad);
  }
  if (taps.audio) {
    using AudioTap = std::function<void(GstPad *, GstBuffer *)>;
    GstPad *apad = gst_element_get_static_pad(out.hlssink, "audio");
    gst_pad_add_probe(
        apad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *pad, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          (*static_cast<AudioTap *>(d))(pad, GST_PAD_PROBE_INFO_BUFFER(info));
          return GST_PAD_PROBE_OK;
        },
        new AudioTap(std::move(taps.audio)), [](gpointer d) { delete static_cast<AudioTap *>(d); });
    gst_object_unref(apad);
  }
}

GstBuffer *running_time_copy(GstPad *pad, GstBuffer *buf) {
  GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  if (!ev) return nullptr;
  const GstSegment *seg;
  gst_event_parse_segment(ev, &seg);
  GstBuffer *b = gst_buffer_copy(buf);
  for (GstClockTime *ts : {&GST_BUFFER_PTS(b), &GST_BUFFER_DTS(b)}) {
    if (!GST_CLOCK_TIME_IS_VALID(*ts)) continue;
    guint64 rt = 0;
    int sign = gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, *ts, &rt);
    *ts = sign > 0 ? rt : 0;
  }
  gst_event_unref(ev);
  return b;
}

}  // namespace iptv::worker
