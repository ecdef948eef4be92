// The output pipeline of Worker: transcode (encoders + iptvhlssink) or passthrough (remux), the
// sink-side probes and the edge outputs' buffers.
#include <gst/app/app.h>

#include <algorithm>

#include "worker/edge.h"
#include "worker/worker.h"

namespace iptv::worker {

namespace {

gint64 mono_ms() {
  return g_get_monotonic_time() / 1000;
}

GstElement *make(const char *factory, const char *name = nullptr) {
  return gst_element_factory_make(factory, name);
}

}  // namespace

// ---- output pipelines ----

bool Worker::build_transcode(std::string &error) {
  GstBin *bin = GST_BIN(output_);
  vcaps_ = raw_video_caps(spec_);
  acaps_ = raw_audio_caps(spec_);
  vsrc_ = make("appsrc", "vin");
  asrc_ = make("appsrc", "ain");
  GstElement *vq = make("queue"), *aconv = make("audioconvert");
  GstElement *aenc = make("avenc_aac");
  if (!aenc) aenc = make("voaacenc");
  GstElement *aparse = make("aacparse"), *aq2 = make("queue");
  ladder_ = make("iptvabrladder", "ladder");
  hlssink_ = make("iptvhlssink", "hls");
  std::string missing;
  for (auto [e, n] : {std::pair{vsrc_, "appsrc"},
                      {aenc, "avenc_aac/voaacenc"},
                      {aparse, "aacparse"},
                      {ladder_, "iptvabrladder"},
                      {hlssink_, "iptvhlssink"}})
    if (!e) missing += std::string(missing.empty() ? "" : ", ") + n;
  if (!missing.empty()) {
    error = "missing elements: " + missing;
    return false;
  }
  gst_object_ref(vsrc_);
  gst_object_ref(asrc_);
  gst_object_ref(ladder_);
  gst_object_ref(hlssink_);
  for (GstElement *e : {vsrc_, asrc_})
    g_object_set(e, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE, "max-bytes",
                 (guint64)256 * 1024 * 1024, "block", FALSE, nullptr);
  g_object_set(vsrc_, "caps", vcaps_, nullptr);
  g_object_set(asrc_, "caps", acaps_, nullptr);
  g_object_set(aenc, "bitrate", spec_.audio_kbps * 1000, nullptr);
  std::string profiles;
  for (const auto &p : spec_.profiles) {
    if (!profiles.empty()) profiles += ",";
    profiles += ladder_profile(p);
    renditions_.push_back(p.name);
  }
  g_object_set(ladder_, "profiles", profiles.c_str(), "keyframe-interval", spec_.keyframe_seconds,
               "preset", spec_.preset.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(ladder_), "encoder", spec_.encoder.c_str());
  gst_bin_add_many(bin, vsrc_, vq, ladder_, asrc_, aconv, aenc, aparse, aq2, hlssink_, nullptr);
  if (!gst_element_link_many(vsrc_, vq, ladder_, nullptr) ||
      !gst_element_link_many(asrc_, aconv, aenc, aparse, aq2, nullptr)) {
    error = "cannot link the encoders";
    return false;
  }
  for (size_t i = 0; i < renditions_.size(); ++i) {
    std::string src = "src_" + std::to_string(i), sink = "video_" + std::to_string(i);
    GstElement *q = make("queue");
    gst_bin_add(bin, q);
    if (!gst_element_link_pads(ladder_, src.c_str(), q, "sink") ||
        !gst_element_link_pads(q, "src", hlssink_, sink.c_str())) {
      error = "cannot link rendition " + renditions_[i];
      return false;
    }
  }
  if (!gst_element_link_pads(aq2, "src", hlssink_, "audio")) {
    error = "cannot link the audio";
    return false;
  }
  return true;
}

bool Worker::build_passthrough(std::string &error) {
  GstBin *bin = GST_BIN(output_);
  vsrc_ = make("appsrc", "vin");
  asrc_ = make("appsrc", "ain");
  GstElement *vparse = make("h264parse"), *vq = make("queue");
  GstElement *aparse = make("aacparse"), *aq = make("queue");
  hlssink_ = make("iptvhlssink", "hls");
  if (!vsrc_ || !asrc_ || !vparse || !aparse || !hlssink_) {
    error = std::string("missing elements:") + (vsrc_ ? "" : " appsrc") +
            (vparse ? "" : " h264parse") + (aparse ? "" : " aacparse") +
            (hlssink_ ? "" : " iptvhlssink");
    return false;
  }
  gst_object_ref(vsrc_);
  gst_object_ref(asrc_);
  gst_object_ref(hlssink_);
  for (GstElement *e : {vsrc_, asrc_})
    g_object_set(e, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE, "max-bytes",
                 (guint64)64 * 1024 * 1024, "block", FALSE, nullptr);
  GstCaps *vc = gst_caps_from_string("video/x-h264, stream-format=byte-stream, alignment=au");
  GstCaps *ac = gst_caps_from_string("audio/mpeg, mpegversion=4, stream-format=adts");
  GstElement *vcf = make("capsfilter"), *acf = make("capsfilter");
  g_object_set(vcf, "caps", vc, nullptr);
  g_object_set(acf, "caps", ac, nullptr);
  gst_caps_unref(vc);
  gst_caps_unref(ac);
  g_object_set(vparse, "config-interval", -1, nullptr);
  renditions_.push_back("source");
  gst_bin_add_many(bin, vsrc_, vparse, vcf, vq, asrc_, aparse, acf, aq, hlssink_, nullptr);
  if (!gst_element_link_many(vsrc_, vparse, vcf, vq, nullptr) ||
      !gst_element_link_many(asrc_, aparse, acf, aq, nullptr) ||
      !gst_element_link_pads(vq, "src", hlssink_, "video_0") ||
      !gst_element_link_pads(aq, "src", hlssink_, "audio")) {
    error = "cannot link the remux";
    return false;
  }
  return true;
}

bool Worker::build_output(std::string &error) {
  output_ = gst_pipeline_new("output");
  GstClock *clock = gst_system_clock_obtain();
  gst_pipeline_use_clock(GST_PIPELINE(output_), clock);
  gst_object_unref(clock);
  if (!(passthrough_ ? build_passthrough(error) : build_transcode(error))) return false;

  std::string names;
  for (const auto &r : renditions_) {
    names += (names.empty() ? "" : ",") + r;
    rstats_[r] = std::make_unique<RenditionStats>();
  }
  g_mkdir_with_parents(spec_.hls.dir.c_str(), 0755);
  g_object_set(hlssink_, "location", spec_.hls.dir.c_str(), "rendition-names", names.c_str(),
               "target-duration", spec_.hls.segment_seconds, "playlist-length",
               (guint)std::max(1, spec_.hls.window), "dvr-seconds", spec_.hls.dvr_seconds,
               "channel-id", spec_.channel_id.c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(hlssink_), "playlist-type", spec_.hls.playlist_type.c_str());
  gst_util_set_object_arg(G_OBJECT(hlssink_), "sequence-mode", spec_.hls.sequence_mode.c_str());
  if (spec_.hls.sequence_mode == "counter")
    g_object_set(hlssink_, "state-file", (spec_.hls.dir + "/state.json").c_str(), nullptr);

  // Sink-side probes: media age, frame counts, rendition enable/disable, edge outputs.
  for (size_t i = 0; i < renditions_.size(); ++i) {
    std::string pad_name = "video_" + std::to_string(i);
    GstPad *pad = gst_element_get_static_pad(hlssink_, pad_name.c_str());
    if (!pad) continue;
    struct Ctx {
      Worker *w;
      size_t index;
    };
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *pad, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          auto *c = static_cast<Ctx *>(d);
          Worker *w = c->w;
          GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
          w->rstats_[w->renditions_[c->index]]->frames++;
          w->last_media_ms_ = mono_ms();
          if (c->index == 0 && !w->edges_.empty()) w->push_edges(pad, true, buf);
          return GST_PAD_PROBE_OK;
        },
        new Ctx{this, i}, [](gpointer d) { delete static_cast<Ctx *>(d); });
    gst_object_unref(pad);
  }
  if (!spec_.outputs.empty()) {
    GstPad *apad = gst_element_get_static_pad(hlssink_, "audio");
    gst_pad_add_probe(
        apad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *pad, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          static_cast<Worker *>(d)->push_edges(pad, false, GST_PAD_PROBE_INFO_BUFFER(info));
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
    gst_object_unref(apad);
  }
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(output_));
  sources_.push_back(gst_bus_add_watch(
      bus,
      [](GstBus *, GstMessage *msg, gpointer d) -> gboolean {
        static_cast<Worker *>(d)->on_output_message(msg);
        return TRUE;
      },
      this));
  gst_object_unref(bus);
  return true;
}

// Edge outputs get the sink's encoded buffers with their timestamps turned into running time
// (encoders such as x264enc shift theirs by a segment offset), so the edge pipelines, which
// share the output's clock and base time, mux them in real time.
void Worker::push_edges(GstPad *pad, bool video, GstBuffer *buf) {
  GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  if (!ev) return;
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
  GstCaps *caps = gst_pad_get_current_caps(pad);
  for (auto &e : edges_) e->push(video, b, caps);
  if (caps) gst_caps_unref(caps);
  gst_buffer_unref(b);
}

}  // namespace iptv::worker
