// SourcePipeline's intake measurement (issue 17, step 3 of diagnose): the encoded bytes that
// reach the input's decoders or passthrough tails, and their codecs' names, reported in the
// worker's stats line. Split from source.cpp (one step per file).
#include "worker/source.h"

#include <string>

namespace iptv::worker {

// A codec's name for people, from encoded caps: "H.264 (high)", "H.265 (main)", "AAC",
// "MPEG-1 layer 2 audio", "AC-3"; other media types by their name.
static std::string codec_name(const GstCaps *caps) {
  if (!caps || gst_caps_is_empty(caps)) return "";
  const GstStructure *st = gst_caps_get_structure(caps, 0);
  std::string type = gst_structure_get_name(st), name = type;
  int version = 0, layer = 0;
  gst_structure_get_int(st, "mpegversion", &version);
  if (type == "video/x-h264")
    name = "H.264";
  else if (type == "video/x-h265")
    name = "H.265";
  else if (type == "video/mpeg")
    name = "MPEG-" + std::to_string(version ? version : 2) + " video";
  else if (type == "audio/mpeg" && (version == 2 || version == 4))
    name = "AAC";
  else if (type == "audio/mpeg" && gst_structure_get_int(st, "layer", &layer))
    name = "MPEG-1 layer " + std::to_string(layer) + " audio";
  else if (type == "audio/x-ac3")
    name = "AC-3";
  else if (type == "audio/x-eac3")
    name = "E-AC-3";
  else if (type == "audio/x-opus")
    name = "Opus";
  const char *profile = gst_structure_get_string(st, "profile");
  if (profile) name += std::string(" (") + profile + ")";
  return name;
}

namespace {
struct IntakeWatch {
  SourcePipeline *self;
  bool video;
};
}  // namespace

// Counts the encoded bytes through `pad` and names its codec from its caps.
void SourcePipeline::watch_encoded(GstPad *pad, bool video) {
  intake_measured_ = true;
  if (GstCaps *c = gst_pad_get_current_caps(pad)) {
    std::string n = codec_name(c);
    gst_caps_unref(c);
    g_mutex_lock(&pad_lock_);
    (video ? video_codec_ : audio_codec_) = n;
    g_mutex_unlock(&pad_lock_);
  }
  gst_pad_add_probe(
      pad,
      (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                        GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      [](GstPad *, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
        auto *w = static_cast<IntakeWatch *>(d);
        if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
          w->self->intake_bytes_ += (int64_t)gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info));
          w->self->data_seen(true);
        } else if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
          GstBufferList *l = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
          int64_t n = 0;
          for (guint i = 0; i < gst_buffer_list_length(l); ++i)
            n += (int64_t)gst_buffer_get_size(gst_buffer_list_get(l, i));
          w->self->intake_bytes_ += n;
          w->self->data_seen(true);
        } else if (GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
                   ev && GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
          GstCaps *c = nullptr;
          gst_event_parse_caps(ev, &c);
          w->self->set_codec(w->video, codec_name(c));
        }
        return GST_PAD_PROBE_OK;
      },
      new IntakeWatch{this, video}, [](gpointer d) { delete static_cast<IntakeWatch *>(d); });
}

// "The input delivers data" (failover's health), measured:
// - Out of the tails' queues, where the appsinks' clock wait paces it, for inputs that are not
//   pushed live (files, HLS pulls, test sources): a file fills the 2 s queue ahead of the clock,
//   so at its end nothing entered for 2 s while the picture still played, and measured at the
//   intake a loop looked like a lost input (primary_loss_seconds) and put the slate on air for a
//   moment at every loop. An HLS pull arrives a segment at a time.
// - At the intake for inputs pushed live over the network (udp, srt, rtmp, rtsp): the network
//   paces them, so the intake sees a cut as it happens. Out of the queues, a cut was hidden: they
//   hold what the input's latency keeps ahead of the clock (tsdemux's 700 ms for UDP), which kept
//   coming out through the cut, and the pictures after it, stamped as if no time had passed, were
//   passed on at once as late, so a 1 s cut left a 0.3 s gap there and switched nothing with a
//   0.5 s threshold. Nor is the queues' output a good second opinion for these inputs: once the
//   demuxer re-stamps the pictures after such a cut to the wall clock they wait out the latency
//   again, a 0.5-0.7 s pause of the output 0.1-0.2 s after the feed came back, which counted as
//   a second loss for every cut (measured with the chaos test's flapping source). An input that
//   was never watched at its intake (no decoder or passthrough tail found) falls back to the
//   queues.
void SourcePipeline::data_seen(bool at_intake) {
  bool by_intake = pushed_live_ && intake_measured_;
  if (cb_.on_data && at_intake == by_intake) cb_.on_data(g_get_monotonic_time() / 1000);
}

void SourcePipeline::set_codec(bool video, const std::string &name) {
  g_mutex_lock(&pad_lock_);
  (video ? video_codec_ : audio_codec_) = name;
  g_mutex_unlock(&pad_lock_);
}

SourcePipeline::Intake SourcePipeline::take_intake() {
  Intake in;
  int64_t b = intake_bytes_.exchange(0);
  in.bytes = intake_measured_ ? b : -1;
  g_mutex_lock(&pad_lock_);
  in.video_codec = video_codec_;
  in.audio_codec = audio_codec_;
  g_mutex_unlock(&pad_lock_);
  return in;
}

}  // namespace iptv::worker
