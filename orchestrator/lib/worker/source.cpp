#include "worker/source.h"

#include <gst/app/app.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace iptv::worker {

namespace {

GstElement *make(const char *factory, const char *name = nullptr) {
  return gst_element_factory_make(factory, name);
}

// "test://smpte?tone=440" -> {"smpte", {{"tone","440"}}}
std::pair<std::string, std::map<std::string, std::string>> split_test_uri(const std::string &uri) {
  std::string rest = uri.substr(uri.find("://") + 3);
  std::string path = rest.substr(0, rest.find('?'));
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  std::map<std::string, std::string> q;
  auto qpos = rest.find('?');
  if (qpos != std::string::npos) {
    std::string query = rest.substr(qpos + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string kv =
          query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      auto eq = kv.find('=');
      if (!kv.empty()) q[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  return {path, q};
}

bool set_enum_by_nick(GObject *obj, const char *prop, const std::string &nick) {
  GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(obj), prop);
  if (!ps || !G_IS_PARAM_SPEC_ENUM(ps)) return false;
  GEnumClass *ec = G_PARAM_SPEC_ENUM(ps)->enum_class;
  GEnumValue *v = g_enum_get_value_by_nick(ec, nick.c_str());
  if (!v) return false;
  g_object_set(obj, prop, v->value, nullptr);
  return true;
}

bool has_property(GstElement *e, const char *prop) {
  return g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop) != nullptr;
}

bool has_trigger(const WorkerSpec &spec, const char *name) {
  const auto &t = spec.failover.triggers;
  return std::find(t.begin(), t.end(), name) != t.end();
}

// Drops every H.264 buffer but the keyframes (before the content branch's queue, so that queue
// and the decoder only ever see keyframes).
GstPadProbeReturn keep_keyframes(GstPad *, GstPadProbeInfo *info, gpointer) {
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  return b && GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT) ? GST_PAD_PROBE_DROP
                                                                    : GST_PAD_PROBE_OK;
}

}  // namespace

GstCaps *raw_video_caps(const WorkerSpec &s) {
  return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                             s.width, "height", G_TYPE_INT, s.height, "framerate",
                             GST_TYPE_FRACTION, s.fps, 1, "pixel-aspect-ratio", GST_TYPE_FRACTION,
                             1, 1, nullptr);
}

GstCaps *raw_audio_caps(const WorkerSpec &s) {
  return gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT,
                             s.audio_rate, "channels", G_TYPE_INT, s.audio_channels, "layout",
                             G_TYPE_STRING, "interleaved", nullptr);
}

SourcePipeline::SourcePipeline(const WorkerSpec &spec, const SourceEntry &entry, bool encoded,
                               bool slate, SourceCallbacks cb)
    : spec_(spec), entry_(entry), encoded_(encoded), slate_(slate), cb_(std::move(cb)) {
  g_mutex_init(&pad_lock_);
  pushed_live_ = !slate_ && (entry_.kind == "udp" || entry_.kind == "srt" ||
                             entry_.kind == "rtmp" || entry_.kind == "rtsp");
  if (slate_) {
    entry_.role = "slate";
    entry_.kind = "test";
    entry_.uri = "test://slate";
  }
}

SourcePipeline::~SourcePipeline() {
  stop();
  g_mutex_clear(&pad_lock_);
}

// queue ! convert/parse ! capsfilter ! iptvgapprobe ! appsink, in a bin with a ghost "sink" pad.
// `hevc`: an encoded (passthrough) H.265 video stream, parsed by h265parse instead of h264parse.
GstElement *SourcePipeline::make_tail(StreamKind kind, bool hevc) {
  bool video = kind == StreamKind::kVideo;
  GstElement *bin = gst_bin_new(video ? "tail-video" : "tail-audio");
  std::vector<GstElement *> chain;
  GstElement *queue = make("queue");
  g_object_set(queue, "max-size-time", (guint64)2 * GST_SECOND, "max-size-bytes", 0u,
               "max-size-buffers", 0u, nullptr);
  chain.push_back(queue);
  GstCaps *caps = nullptr;
  if (!encoded_ && video) {
    GstElement *scale = make("videoscale");
    g_object_set(scale, "add-borders", TRUE, nullptr);
    chain.push_back(make("videoconvert"));
    chain.push_back(scale);
    chain.push_back(make("videorate"));
    caps = raw_video_caps(spec_);
  } else if (!encoded_) {
    chain.push_back(make("audioconvert"));
    chain.push_back(make("audioresample"));
    caps = raw_audio_caps(spec_);
  } else if (video) {
    // Byte-stream access units with the parameter sets at every keyframe, as iptvhlssink takes
    // them (H.265 in fMP4 as hvc1, its hvcC from those parameter sets; in MPEG-TS as stream
    // type 0x24).
    GstElement *parse = make(hevc ? "h265parse" : "h264parse");
    g_object_set(parse, "config-interval", -1, nullptr);
    chain.push_back(parse);
    caps = gst_caps_from_string(hevc ? "video/x-h265, stream-format=byte-stream, alignment=au"
                                     : "video/x-h264, stream-format=byte-stream, alignment=au");
  } else {
    chain.push_back(make("aacparse"));
    caps = gst_caps_from_string("audio/mpeg, mpegversion=4, stream-format=adts");
  }
  GstElement *filter = make("capsfilter");
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  chain.push_back(filter);
  // Passthrough content triggers: a tee after the parser feeds a decode branch (built below)
  // whose own iptvgapprobe sees raw media, as a transcoded channel's probe does.
  bool content = encoded_ && !slate_ && needs_content_decode(spec_, kind);
  GstElement *tee = nullptr;
  if (content) {
    tee = make("tee");
    chain.push_back(tee);
  }
  if (!slate_) {
    GstElement *probe = make("iptvgapprobe", video ? "probe-video" : "probe-audio");
    if (probe) {
      const auto &q = spec_.quality;
      g_object_set(probe, "gap-threshold", spec_.failover.primary_loss_seconds,
                   "keyframe-gap-threshold", q.keyframe_gap_seconds, "silence-threshold-db",
                   q.silence_threshold_db, "silence-seconds", q.silence_seconds, "black-threshold",
                   q.black_threshold, "black-seconds", q.black_seconds, "freeze-seconds",
                   q.freeze_seconds, nullptr);
      chain.push_back(probe);
    }
  }
  GstElement *sink = make("appsink", video ? "video" : "audio");
  // The appsinks sync on the clock: buffers come out at their running time (plus the input
  // pipeline's latency), so video and audio arrive together as they should be shown, and the
  // worker can map each onto the output clock by arrival. This also paces inputs that are not
  // live by nature (files, HLS pulls) to real time. Late buffers are passed on, never dropped.
  // Passthrough of UDP is the exception: the network paces it, and the worker maps each feed
  // onto the output once (at a keyframe) and carries every later buffer, video and audio, by its
  // own timestamps, so a clock wait per buffer (a sleep and a wake-up of this thread, about 80
  // a second) bought nothing there (docs/benchmarks.md, channel density).
  bool sync = !(encoded_ && entry_.kind == "udp");
  g_object_set(sink, "emit-signals", TRUE, "sync", sync, "max-lateness", (gint64)-1, "qos", FALSE,
               "max-buffers", 0u, "drop", FALSE, "async", FALSE, nullptr);
  g_signal_connect(sink, "new-sample", G_CALLBACK(new_sample_cb), this);
  chain.push_back(sink);
  for (GstElement *e : chain) {
    if (!e) {
      gst_object_unref(bin);
      return nullptr;
    }
    gst_bin_add(GST_BIN(bin), e);
  }
  for (size_t i = 0; i + 1 < chain.size(); ++i)
    if (!gst_element_link(chain[i], chain[i + 1])) {
      gst_object_unref(bin);
      return nullptr;
    }
  if (content && !add_content_branch(GST_BIN(bin), tee, kind, hevc)) {
    gst_object_unref(bin);
    return nullptr;
  }
  GstPad *target = gst_element_get_static_pad(queue, "sink");
  // Where the queue lets data out, paced by the appsink's clock wait (data_seen).
  GstPad *out = gst_element_get_static_pad(queue, "src");
  gst_pad_add_probe(
      out, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer d) -> GstPadProbeReturn {
        static_cast<SourcePipeline *>(d)->data_seen(false);
        return GST_PAD_PROBE_OK;
      },
      this, nullptr);
  gst_object_unref(out);
  gst_element_add_pad(bin, gst_ghost_pad_new("sink", target));
  gst_object_unref(target);
  return bin;
}

bool needs_content_decode(const WorkerSpec &spec, StreamKind kind) {
  if (kind == StreamKind::kVideo) return has_trigger(spec, "black") || has_trigger(spec, "freeze");
  return has_trigger(spec, "silence");
}

// The passthrough content branch, from the tail's tee:
//   video: [keyframes only] queue ! avdec_h264 ! videoconvert ! I420 ! iptvgapprobe ! fakesink
//   audio: queue ! avdec_aac ! identity ! capsfilter ! iptvgapprobe ! fakesink
// Video decodes the keyframes alone (every delta frame is dropped before the queue): one
// picture per keyframe interval, with one decoder thread, so the cost is one intra picture's
// decode per interval. Black and freeze are then judged on those pictures: their granularity
// is the source's keyframe interval (a freeze is two identical keyframes in a row, held for
// freeze_seconds, rounded up to the next keyframe). AAC decodes at a small fraction of H.264's
// cost, so audio is decoded whole (silence as precise as in transcode). The queues are leaky: a
// decoder that falls behind loses pictures here, never delays the remux. The branch's probe
// reports silence, black and freeze only (the tail's own probe keeps gaps, keyframe gaps and
// timestamps): its gap, jump and drift thresholds are out of reach, since keyframes alone are a
// stream with 2 s "jumps" by design.
bool SourcePipeline::add_content_branch(GstBin *bin, GstElement *tee, StreamKind kind, bool hevc) {
  bool video = kind == StreamKind::kVideo;
  GstElement *queue = make("queue");
  GstElement *dec = make(video ? (hevc ? "avdec_h265" : "avdec_h264") : "avdec_aac");
  if (!dec && !video) dec = make("faad");
  // 8-bit 4:2:0 for the probe, which reads 8-bit luma (or the high byte of 16-bit samples): a
  // 10-bit or 4:4:4 source (x264's High 4:4:4 from an unconstrained videotestsrc, for one) decodes
  // to a format whose luma it would skip. A no-op for the usual I420.
  GstElement *conv = video ? make("videoconvert") : make("identity");
  GstElement *convcaps = make("capsfilter");
  GstElement *probe = make("iptvgapprobe", video ? "content-video" : "content-audio");
  GstElement *sink = make("fakesink");
  if (!queue || !dec || !conv || !convcaps || !probe || !sink) {
    for (GstElement *e : {queue, dec, conv, convcaps, probe, sink})
      if (e) gst_object_unref(e);
    return false;
  }
  if (video) {
    GstCaps *c = gst_caps_from_string("video/x-raw, format=I420");
    g_object_set(convcaps, "caps", c, nullptr);
    gst_caps_unref(c);
  }
  g_object_set(queue, "max-size-buffers", video ? 2u : 0u, "max-size-bytes", 0u, "max-size-time",
               video ? (guint64)0 : (guint64)GST_SECOND, nullptr);
  gst_util_set_object_arg(G_OBJECT(queue), "leaky", "downstream");
  if (video) {
    if (has_property(dec, "max-threads")) g_object_set(dec, "max-threads", 1, nullptr);
    GstPad *qs = gst_element_get_static_pad(queue, "sink");
    gst_pad_add_probe(qs, GST_PAD_PROBE_TYPE_BUFFER, keep_keyframes, nullptr, nullptr);
    gst_object_unref(qs);
  }
  const auto &q = spec_.quality;
  g_object_set(probe, "gap-threshold", 3600.0, "keyframe-gap-threshold", 3600.0, "jump-threshold",
               3600.0, "drift-threshold", 3600.0, "silence-threshold-db", q.silence_threshold_db,
               "silence-seconds", q.silence_seconds, "black-threshold", q.black_threshold,
               "black-seconds", q.black_seconds, "freeze-seconds", q.freeze_seconds, nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add_many(bin, queue, dec, conv, convcaps, probe, sink, nullptr);
  return gst_element_link(tee, queue) &&
         gst_element_link_many(queue, dec, conv, convcaps, probe, sink, nullptr);
}

GstFlowReturn SourcePipeline::new_sample_cb(GstElement *sink, gpointer data) {
  auto *self = static_cast<SourcePipeline *>(data);
  GstSample *sample = gst_app_sink_pull_sample(GST_APP_SINK(sink));
  if (!sample) return GST_FLOW_EOS;
  bool video = g_str_equal(GST_OBJECT_NAME(sink), "video");
  // The running time where this sample ends (pad offsets of earlier loops included).
  GstBuffer *buf = gst_sample_get_buffer(sample);
  const GstSegment *seg = gst_sample_get_segment(sample);
  if (buf && seg && seg->format == GST_FORMAT_TIME && GST_BUFFER_PTS_IS_VALID(buf)) {
    GstClockTime end =
        GST_BUFFER_PTS(buf) + (GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : 0);
    GstClockTime rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, end);
    if (GST_CLOCK_TIME_IS_VALID(rt) && rt > self->played_end_.load()) self->played_end_ = rt;
  }
  self->cb_.on_sample(video ? StreamKind::kVideo : StreamKind::kAudio, sample);
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void SourcePipeline::pad_added_cb(GstElement *, GstPad *pad, gpointer data) {
  static_cast<SourcePipeline *>(data)->on_pad_added(pad);
}

// A decoded (or parsed) stream appeared: link the first video and the first audio to tails.
void SourcePipeline::on_pad_added(GstPad *pad) {
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  if (!caps || gst_caps_is_empty(caps)) {
    if (caps) gst_caps_unref(caps);
    return;
  }
  std::string name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
  gst_caps_unref(caps);
  bool video = name.rfind("video/", 0) == 0, audio = name.rfind("audio/", 0) == 0;
  g_mutex_lock(&pad_lock_);
  bool take = (video && !have_video_) || (audio && !have_audio_);
  if (take) (video ? have_video_ : have_audio_) = true;
  g_mutex_unlock(&pad_lock_);
  if (!take) return;
  GstElement *tail =
      make_tail(video ? StreamKind::kVideo : StreamKind::kAudio, name == "video/x-h265");
  if (!tail) return;
  // Passthrough: the encoded stream itself reaches the tail; count it there (a decoded stream
  // was counted at its decoder's input, see build()).
  if (name.find("x-raw") == std::string::npos) watch_encoded(pad, video);
  gst_bin_add(GST_BIN(pipeline_), tail);
  gst_element_sync_state_with_parent(tail);
  GstPad *sink = gst_element_get_static_pad(tail, "sink");
  gst_pad_link(pad, sink);
  gst_object_unref(sink);
}

// A demuxer's elementary stream: a decodebin (raw) or a decodebin that stops at parsed
// H.264/AAC (passthrough), whose output goes to a tail.
static void demux_pad_added(GstElement *demux, GstPad *pad, gpointer data) {
  auto *self = static_cast<SourcePipeline *>(data);
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  std::string name = caps && !gst_caps_is_empty(caps)
                         ? gst_structure_get_name(gst_caps_get_structure(caps, 0))
                         : "";
  if (caps) gst_caps_unref(caps);
  if (name.rfind("video/", 0) != 0 && name.rfind("audio/", 0) != 0) return;
  GstCaps *stop = static_cast<GstCaps *>(g_object_get_data(G_OBJECT(demux), "stop-caps"));
  // Passthrough of what the tails parse (H.264, H.265, ADTS AAC): the demuxer's pad goes
  // straight to its tail. A decodebin there only found that the caps match its stop caps, after
  // a typefind and a pad probe of its own on every buffer. Anything else still goes through a
  // decodebin.
  if (stop && (name == "video/x-h264" || name == "video/x-h265" || name == "audio/mpeg")) {
    GstCaps *c = gst_pad_get_current_caps(pad);
    bool direct = name == "video/x-h264" || name == "video/x-h265";
    if (!direct && c) {
      const GstStructure *st = gst_caps_get_structure(c, 0);
      int version = 0;
      const char *format = gst_structure_get_string(st, "stream-format");
      direct = gst_structure_get_int(st, "mpegversion", &version) &&
               (version == 2 || version == 4) && (!format || g_str_equal(format, "adts"));
    }
    if (c) gst_caps_unref(c);
    if (direct) {
      self->pad_added_public(demux, pad);
      return;
    }
  }
  GstElement *dec = gst_element_factory_make("decodebin", nullptr);
  if (stop) g_object_set(dec, "caps", stop, nullptr);
  g_signal_connect(dec, "pad-added", G_CALLBACK(+[](GstElement *e, GstPad *p, gpointer d) {
                     static_cast<SourcePipeline *>(d)->pad_added_public(e, p);
                   }),
                   self);
  GstObject *parent = gst_element_get_parent(demux);
  gst_bin_add(GST_BIN(parent), dec);
  gst_object_unref(parent);
  gst_element_sync_state_with_parent(dec);
  GstPad *sink = gst_element_get_static_pad(dec, "sink");
  gst_pad_link(pad, sink);
  gst_object_unref(sink);
}

bool SourcePipeline::build(std::string &error) {
  std::string pname = "src-" + entry_.role;
  pipeline_ = gst_pipeline_new(pname.c_str());
  GstClock *clock = gst_system_clock_obtain();
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_), clock);
  gst_object_unref(clock);
  GstBin *bin = GST_BIN(pipeline_);
  // Intake (take_intake): every decoder that decodebin or uridecodebin3 plugs is watched at its
  // input, the encoded stream as it came in.
  g_signal_connect(
      pipeline_, "deep-element-added",
      G_CALLBACK(+[](GstBin *, GstBin *, GstElement *e, gpointer d) {
        GstElementFactory *f = gst_element_get_factory(e);
        const char *klass =
            f ? gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS) : nullptr;
        if (!klass || !strstr(klass, "Decoder") ||
            !(strstr(klass, "Video") || strstr(klass, "Audio")))
          return;
        GstPad *p = gst_element_get_static_pad(e, "sink");
        if (!p) return;
        static_cast<SourcePipeline *>(d)->watch_encoded(p, strstr(klass, "Video") != nullptr);
        gst_object_unref(p);
      }),
      this);
  // Passthrough: demuxers and decodebins stop at the encoded streams.
  GstCaps *stop_caps =
      encoded_ ? gst_caps_from_string("video/x-h264; video/x-h265; audio/mpeg") : nullptr;
  std::string why;
  bool ok = entry_.kind == "test" ? build_test(bin, why)
            : entry_.kind == "udp" || entry_.kind == "srt" || entry_.kind == "rtmp"
                ? build_demuxed(bin, stop_caps, why)
                : build_decoded(bin, stop_caps, why);
  if (stop_caps) gst_caps_unref(stop_caps);
  if (!ok) error = entry_.role + " (" + entry_.uri + "): " + why;
  return ok;
}

// test://PATTERN?tone=HZ&still=1 (and the slate): live test sources, encoded here in passthrough.
bool SourcePipeline::build_test(GstBin *bin, std::string &why) {
  auto fail = [&](const std::string &w) {
    why = w;
    return false;
  };
  auto [path, query] = split_test_uri(entry_.uri);
  GstElement *vsrc = make("videotestsrc"), *asrc = make("audiotestsrc");
  GstElement *vcaps = make("capsfilter");
  if (!vsrc || !asrc || !vcaps) return fail("videotestsrc/audiotestsrc missing");
  g_object_set(vsrc, "is-live", TRUE, nullptr);
  g_object_set(asrc, "is-live", TRUE, "samplesperbuffer", spec_.audio_rate / 50, nullptr);
  std::vector<GstElement *> vchain = {vsrc, vcaps};
  if (slate_) {
    set_enum_by_nick(G_OBJECT(vsrc), "pattern", "solid-color");
    g_object_set(vsrc, "foreground-color", 0xff202040u, nullptr);
    set_enum_by_nick(G_OBJECT(asrc), "wave", "silence");
    GstElement *text = make("textoverlay");
    if (text) {
      std::string font = "Sans Bold " + std::to_string(std::max(8, spec_.height / 12));
      g_object_set(text, "text", "No signal", "font-desc", font.c_str(), nullptr);
      set_enum_by_nick(G_OBJECT(text), "valignment", "center");
      set_enum_by_nick(G_OBJECT(text), "halignment", "center");
      vchain.push_back(text);
    }
  } else {
    std::string pattern = path.empty() ? "smpte" : path;
    if (!set_enum_by_nick(G_OBJECT(vsrc), "pattern", pattern))
      return fail("unknown test pattern '" + pattern + "'");
    // Moving content: the ball moves by itself, other patterns scroll.
    static const std::vector<std::string> still = {"ball", "snow",  "black", "white",
                                                   "red",  "green", "blue",  "solid-color"};
    // still=1 keeps any pattern still: a frozen picture (the freeze trigger's test input).
    bool keep_still = query.count("still") && query["still"] != "0";
    if (!keep_still && std::find(still.begin(), still.end(), pattern) == still.end())
      g_object_set(vsrc, "horizontal-speed", 2, nullptr);
    // The ball's default background is black, which the black probe would (rightly) flag.
    if (pattern == "ball") g_object_set(vsrc, "background-color", 0xff303060u, nullptr);
    double tone = query.count("tone") ? g_ascii_strtod(query["tone"].c_str(), nullptr) : 440.0;
    if (tone <= 0)
      set_enum_by_nick(G_OBJECT(asrc), "wave", "silence");
    else
      g_object_set(asrc, "freq", tone, "volume", 0.3, nullptr);
  }
  GstCaps *c = raw_video_caps(spec_);
  g_object_set(vcaps, "caps", c, nullptr);
  gst_caps_unref(c);
  std::vector<GstElement *> achain = {asrc};
  if (encoded_) {
    GstElement *enc = make("x264enc");
    if (!enc) return fail("x264enc missing");
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "ultrafast");
    gst_util_set_object_arg(G_OBJECT(enc), "tune", "zerolatency");
    g_object_set(enc, "key-int-max", (guint)(spec_.fps * spec_.keyframe_seconds), "bitrate", 800u,
                 nullptr);
    vchain.push_back(make("videoconvert"));
    vchain.push_back(enc);
    GstElement *aenc = make("avenc_aac");
    if (!aenc) aenc = make("voaacenc");
    if (!aenc) return fail("no AAC encoder");
    achain.push_back(make("audioconvert"));
    achain.push_back(make("audioresample"));
    achain.push_back(aenc);
  }
  GstElement *vt = make_tail(StreamKind::kVideo), *at = make_tail(StreamKind::kAudio);
  if (!vt || !at) return fail("cannot build the tails");
  vchain.push_back(vt);
  achain.push_back(at);
  for (auto *chain : {&vchain, &achain}) {
    for (GstElement *e : *chain) gst_bin_add(bin, e);
    for (size_t i = 0; i + 1 < chain->size(); ++i)
      if (!gst_element_link((*chain)[i], (*chain)[i + 1])) return fail("cannot link test source");
  }
  // Intake: in passthrough the test source's encoders feed the tails (measured there); in
  // transcode nothing is ever encoded, so there are no input bytes to count.
  if (encoded_) {
    for (GstElement *t : {vt, at}) {
      GstPad *p = gst_element_get_static_pad(t, "sink");
      watch_encoded(p, t == vt);
      gst_object_unref(p);
    }
  } else {
    set_codec(true, "raw (generated)");
    set_codec(false, "raw (generated)");
  }
  have_video_ = have_audio_ = true;
  return true;
}

// udp:// and srt:// (MPEG-TS), rtmp:// (FLV): the source (srt/rtmp: then a queue) and the
// demuxer, whose pads get their decoders (or the passthrough tails) when they appear.
bool SourcePipeline::build_demuxed(GstBin *bin, GstCaps *stop_caps, std::string &why) {
  auto fail = [&](const std::string &w) {
    why = w;
    return false;
  };
  GstElement *src = nullptr, *demux = nullptr;
  if (entry_.kind == "udp") {
    src = make("udpsrc");
    if (!src) return fail("udpsrc missing");
    g_object_set(src, "uri", entry_.uri.c_str(), "buffer-size", 4 * 1024 * 1024, nullptr);
    if (!entry_.interface.empty())
      g_object_set(src, "multicast-iface", entry_.interface.c_str(), nullptr);
    GstCaps *c = gst_caps_from_string("video/mpegts, systemstream=(boolean)true, packetsize=188");
    g_object_set(src, "caps", c, nullptr);
    gst_caps_unref(c);
  } else if (entry_.kind == "srt") {
    src = make("srtsrc");
    if (!src) return fail("srtsrc missing");
    g_object_set(src, "uri", entry_.uri.c_str(), "latency", entry_.latency_ms, nullptr);
  } else {
    src = make("rtmp2src");
    if (!src) src = make("rtmpsrc");
    if (!src) return fail("rtmp2src/rtmpsrc missing");
    g_object_set(src, "location", entry_.uri.c_str(), nullptr);
  }
  if (entry_.kind == "rtmp") {
    demux = make("flvdemux");
  } else {
    demux = make("tsdemux");
    if (demux && entry_.program > 0) g_object_set(demux, "program-number", entry_.program, nullptr);
  }
  if (!demux) return fail("demuxer missing");
  if (stop_caps)
    g_object_set_data_full(G_OBJECT(demux), "stop-caps", gst_caps_ref(stop_caps),
                           (GDestroyNotify)gst_caps_unref);
  // Passthrough of UDP: udpsrc feeds the demuxer from its own thread, as a bare `udpsrc !
  // tsdemux` does: a queue between them was a thread hop for every datagram (about 300 a second
  // at 3 Mbit/s; docs/benchmarks.md, channel density). The socket's 4 MB receive buffer and the
  // tails' 2 s queues absorb the bursts. SRT and RTMP keep a queue (their sources do their own
  // network work in that thread), and so does transcode, where the demuxer's thread also plugs
  // and starts the decoders: without the queue, the picture's timing at start changed enough
  // for the freeze probe to fire in worker_failover.
  GstElement *queue = nullptr;
  if (entry_.kind != "udp" || !stop_caps) {
    queue = make("queue");
    if (!queue) return fail("queue missing");
    g_object_set(queue, "max-size-time", (guint64)2 * GST_SECOND, "max-size-bytes", 0u,
                 "max-size-buffers", 0u, nullptr);
  }
  gst_bin_add_many(bin, src, demux, nullptr);
  if (queue) gst_bin_add(bin, queue);
  if (!(queue ? gst_element_link_many(src, queue, demux, nullptr) : gst_element_link(src, demux)))
    return fail("cannot link the input");
  g_signal_connect(demux, "pad-added", G_CALLBACK(demux_pad_added), this);
  return true;
}

// file://, rtsp://, http(s)://...m3u8: uridecodebin3 finds the demuxers and decoders.
bool SourcePipeline::build_decoded(GstBin *bin, GstCaps *stop_caps, std::string &why) {
  auto fail = [&](const std::string &w) {
    why = w;
    return false;
  };
  GstElement *dec = make("uridecodebin3");
  if (!dec) return fail("uridecodebin3 missing");
  g_object_set(dec, "uri", entry_.uri.c_str(), nullptr);
  if (stop_caps) g_object_set(dec, "caps", stop_caps, nullptr);
  if (entry_.kind == "rtsp")
    g_signal_connect(dec, "source-setup",
                     G_CALLBACK(+[](GstElement *, GstElement *src, gpointer d) {
                       auto *self = static_cast<SourcePipeline *>(d);
                       if (has_property(src, "latency"))
                         g_object_set(src, "latency", (guint)self->entry().latency_ms, nullptr);
                     }),
                     this);
  gst_bin_add(bin, dec);
  g_signal_connect(dec, "pad-added", G_CALLBACK(pad_added_cb), this);
  return true;
}

void SourcePipeline::pad_added_public(GstElement *e, GstPad *pad) {
  pad_added_cb(e, pad, this);
}

gboolean SourcePipeline::bus_cb(GstBus *, GstMessage *msg, gpointer data) {
  auto *self = static_cast<SourcePipeline *>(data);
  if (self->cb_.on_message) self->cb_.on_message(msg);
  return TRUE;
}

bool SourcePipeline::start(std::string &error) {
  stop();
  have_video_ = have_audio_ = false;
  played_end_ = 0;
  if (!build(error)) {
    if (pipeline_) gst_object_unref(pipeline_);
    pipeline_ = nullptr;
    return false;
  }
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipeline_));
  bus_watch_ = gst_bus_add_watch(bus, bus_cb, this);
  gst_object_unref(bus);
  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    error = entry_.role + " (" + entry_.uri + "): cannot start";
    stop();
    return false;
  }
  return true;
}

// A file loop continues its timeline: the flushing seek restarts the file's running time at 0,
// and every tail's sink pad is offset by the running time already played, so the appsinks keep
// pacing on the clock (the pipeline's base time is never re-computed: its sinks are not async)
// and the next loop's first buffer follows the previous loop's last one. Without the offset
// every later loop would be "late" by everything played so far and run as fast as the CPU
// allows.
bool SourcePipeline::loop_to_start() {
  if (!pipeline_) return false;
  // Where the loop ended: the end of its last sample. The next loop starts exactly there (no
  // timestamp jump, so no discontinuity); the time the seek takes is caught up by the appsinks,
  // which pass late buffers on at once.
  GstClockTime played = played_end_.load();
  for (const char *name : {"tail-video", "tail-audio"}) {
    GstElement *tail = gst_bin_get_by_name(GST_BIN(pipeline_), name);
    if (!tail) continue;
    GstPad *pad = gst_element_get_static_pad(tail, "sink");
    if (pad) {
      gst_pad_set_offset(pad, (gint64)played);
      gst_object_unref(pad);
    }
    gst_object_unref(tail);
  }
  return gst_element_seek_simple(pipeline_, GST_FORMAT_TIME,
                                 (GstSeekFlags)(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
}

void SourcePipeline::stop() {
  if (!pipeline_) return;
  if (bus_watch_) g_source_remove(bus_watch_);
  bus_watch_ = 0;
  gst_element_set_state(pipeline_, GST_STATE_NULL);
  gst_object_unref(pipeline_);
  pipeline_ = nullptr;
}

}  // namespace iptv::worker
