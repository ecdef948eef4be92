#include "worker/thumbnail.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include <malloc.h>

#include <atomic>
#include <string>
#include <vector>

#include "util/atomic_file.h"

namespace iptv::worker {

namespace {

struct Branch {
  std::string path;
  gint64 interval_us = 5000000;
  bool encoded = false;
  int width = 320;
  std::vector<std::string> decoders;  // passthrough: keyframe_decoders(), first preferred
  std::string fallback;               // set by pick_decoder when a second one is there to try
  gint64 last_us = 0;                 // when the last frame went in (monotonic); 0 none yet
  std::atomic<bool> stopped{false};
  std::atomic<bool> reported{false};
};

constexpr const char *kBranchKey = "iptv-thumbnail-branch";

// On the tee's pad to the branch (the tee's streaming thread): one frame per interval goes on,
// and in passthrough only a keyframe.
GstPadProbeReturn gate(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *b = static_cast<Branch *>(data);
  if (b->stopped.load(std::memory_order_relaxed)) return GST_PAD_PROBE_DROP;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (b->encoded && GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_DROP;
  gint64 now = g_get_monotonic_time();
  if (b->last_us && now - b->last_us < b->interval_us) return GST_PAD_PROBE_DROP;
  b->last_us = now;
  return GST_PAD_PROBE_OK;
}

void report(GstElement *from, Branch *b, const std::string &reason) {
  b->stopped = true;
  if (b->reported.exchange(true)) return;
  gst_element_post_message(
      from, gst_message_new_element(GST_OBJECT(from),
                                    gst_structure_new(kThumbnailFailed, "reason", G_TYPE_STRING,
                                                      reason.c_str(), nullptr)));
}

// Passthrough: one keyframe (with its SPS/PPS) to a JPEG `width` px wide, by a pipeline made
// for it and gone after it. A decoder kept in the pipeline held its frame pool for the channel's
// whole life (about 6 MB of heap per channel), and gst-libav's 177 libraries cost a worker about
// 10 MB of PSS in relocations alone; openh264dec is preferred because its library is small and
// its buffers leave with it. Returns "" and the JPEG in `out`, else why not.
std::string keyframe_to_jpeg(GstSample *sample, const Branch &b, const std::string &decoder,
                             std::string &out) {
  GstCaps *in_caps = gst_sample_get_caps(sample);
  GstBuffer *in = gst_sample_get_buffer(sample);
  if (!in_caps || !in) return "thumbnail: no keyframe";
  GstElement *pipe = gst_pipeline_new("thumbnail-decode");
  GstElement *src = gst_element_factory_make("appsrc", nullptr);
  GstElement *dec = gst_element_factory_make(decoder.c_str(), nullptr);
  GstElement *scale = gst_element_factory_make("videoscale", nullptr);
  GstElement *conv = gst_element_factory_make("videoconvert", nullptr);
  GstElement *cf = gst_element_factory_make("capsfilter", nullptr);
  GstElement *enc = gst_element_factory_make("jpegenc", nullptr);
  GstElement *sink = gst_element_factory_make("appsink", nullptr);
  if (!src || !dec || !scale || !conv || !cf || !enc || !sink) {
    for (GstElement *e : {src, dec, scale, conv, cf, enc, sink})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    gst_object_unref(pipe);
    return "thumbnail: cannot make the decode pipeline (" + decoder + ")";
  }
  g_object_set(src, "caps", in_caps, "format", GST_FORMAT_TIME, nullptr);
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(dec), "max-threads"))
    g_object_set(dec, "max-threads", 1, nullptr);
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, b.width,
                                      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
  g_object_set(cf, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(sink, "sync", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(pipe), src, dec, scale, conv, cf, enc, sink, nullptr);
  std::string err;
  if (!gst_element_link_many(src, dec, scale, conv, cf, enc, sink, nullptr))
    err = "thumbnail: cannot link " + decoder;
  if (err.empty() && gst_element_set_state(pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    err = "thumbnail: cannot start " + decoder;
  if (err.empty()) {
    // The keyframe, then an access unit delimiter and an end of sequence: openh264dec hands a
    // picture out only when the next access unit begins (it does not drain at end of stream);
    // pushing the keyframe a second time did that too, at the cost of a second decode.
    GstBuffer *one = gst_buffer_copy(in);  // shares the memory; the timestamps start at 0
    GST_BUFFER_PTS(one) = GST_BUFFER_DTS(one) = 0;
    GST_BUFFER_DURATION(one) = 40 * GST_MSECOND;
    gst_app_src_push_buffer(GST_APP_SRC(src), one);
    if (decoder == "openh264dec") {  // H.264 NAL units; avdec_* drains at end of stream
      static const guint8 kAudEos[] = {0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x0A};
      GstBuffer *next = gst_buffer_new_memdup(kAudEos, sizeof kAudEos);
      GST_BUFFER_PTS(next) = GST_BUFFER_DTS(next) = 40 * GST_MSECOND;
      GST_BUFFER_DURATION(next) = 40 * GST_MSECOND;
      GST_BUFFER_FLAG_SET(next, GST_BUFFER_FLAG_DELTA_UNIT);
      gst_app_src_push_buffer(GST_APP_SRC(src), next);
    }
    gst_app_src_end_of_stream(GST_APP_SRC(src));
    GstSample *jpeg = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND);
    GstMapInfo map;
    if (jpeg && gst_buffer_map(gst_sample_get_buffer(jpeg), &map, GST_MAP_READ)) {
      out.assign(reinterpret_cast<const char *>(map.data), map.size);
      gst_buffer_unmap(gst_sample_get_buffer(jpeg), &map);
    } else {
      GstBus *bus = gst_element_get_bus(pipe);
      GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
      GError *e = nullptr;
      if (m) gst_message_parse_error(m, &e, nullptr);
      err = "thumbnail: " + decoder + " gave no picture" +
            (e ? std::string(": ") + e->message : std::string());
      if (e) g_error_free(e);
      if (m) gst_message_unref(m);
      gst_object_unref(bus);
    }
    if (jpeg) gst_sample_unref(jpeg);
  }
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  // The decoder's buffers (about 24 MB for openh264 at 720p) are back in malloc's arena, below
  // the mmap threshold glibc raised for them: hand them back to the system.
  malloc_trim(0);
  return err;
}

// The first decoder whose sink template takes the stream's caps (openh264dec is 8-bit 4:2:0
// H.264 only, so a High 4:4:4 stream goes to avdec_h264, H.265 to avdec_h265); b.fallback is
// the next one that takes them, if any.
std::string pick_decoder(Branch &b, GstCaps *caps) {
  b.fallback.clear();
  std::vector<std::string> takers;
  for (const auto &d : b.decoders) {
    GstElementFactory *fac = gst_element_factory_find(d.c_str());
    bool takes = fac && caps && gst_element_factory_can_sink_all_caps(fac, caps);
    if (fac) gst_object_unref(fac);
    if (takes) takers.push_back(d);
  }
  if (takers.empty()) return b.decoders.empty() ? "" : b.decoders.front();
  if (takers.size() > 1) b.fallback = takers[1];
  return takers[0];
}

// The appsink's thread: one JPEG, written beside the target and renamed over it.
GstFlowReturn on_sample(GstAppSink *sink, gpointer data) {
  auto *b = static_cast<Branch *>(data);
  GstSample *sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_OK;
  GstBuffer *buf = gst_sample_get_buffer(sample);
  std::string err;
  if (buf && !b->stopped && b->encoded) {
    std::string jpeg;
    std::string first = pick_decoder(*b, gst_sample_get_caps(sample));
    err = keyframe_to_jpeg(sample, *b, first, jpeg);
    if (!err.empty() && !b->fallback.empty()) {
      std::erase(b->decoders, first);  // openh264dec could not: avdec_h264 from now on
      err = keyframe_to_jpeg(sample, *b, b->fallback, jpeg);
    }
    if (err.empty()) err = write_file_atomic(b->path, jpeg);
  } else if (GstMapInfo map; buf && !b->stopped && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    err = write_file_atomic(b->path,
                            std::string_view(reinterpret_cast<const char *>(map.data), map.size));
    gst_buffer_unmap(buf, &map);
  }
  if (!err.empty()) report(GST_ELEMENT(sink), b, err);
  gst_sample_unref(sample);
  return GST_FLOW_OK;  // never an error upstream: the branch just stops
}

// The passthrough decoders present: openh264dec (preferred: a small library, and its buffers
// leave with it), avdec_h264 (any profile, High 4:4:4 and 10-bit included) and avdec_h265.
std::vector<std::string> keyframe_decoders() {
  std::vector<std::string> out;
  for (const char *f : {"openh264dec", "avdec_h264", "avdec_h265"}) {
    if (GstElementFactory *fac = gst_element_factory_find(f)) {
      gst_object_unref(fac);
      out.push_back(f);
    }
  }
  return out;
}

}  // namespace

std::string add_thumbnail_branch(GstBin *pipeline, GstElement *upstream, GstElement *downstream,
                                 const ThumbnailEntry &spec, bool encoded) {
  if (spec.path.empty()) return "no thumbnail path";
  std::vector<const char *> factories = {"tee",        "queue",   "videoscale", "videoconvert",
                                         "capsfilter", "jpegenc", "appsink"};
  std::vector<std::string> decoders = encoded ? keyframe_decoders() : std::vector<std::string>{};
  if (encoded) factories.push_back(decoders.empty() ? "openh264dec or avdec_h264" : "appsrc");
  std::string missing;
  for (const char *f : factories) {
    GstElementFactory *fac = gst_element_factory_find(f);
    if (!fac)
      missing += std::string(missing.empty() ? "" : ", ") + f;
    else
      gst_object_unref(fac);
  }
  if (!missing.empty()) return "missing elements: " + missing;

  // transcode: queue ! videoscale ! videoconvert ! capsfilter ! jpegenc ! appsink, on the raw
  // video. passthrough: queue ! appsink of the keyframe, decoded by keyframe_to_jpeg.
  GstElement *bin = gst_bin_new(kThumbnailBin);
  GstElement *q = gst_element_factory_make("queue", nullptr);
  GstElement *sink = gst_element_factory_make("appsink", nullptr);
  // One buffer, the oldest dropped: the branch can never hold back the tee.
  g_object_set(q, "max-size-buffers", 1u, "max-size-bytes", 0u, "max-size-time", (guint64)0,
               "leaky", 2 /* downstream */, nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, "max-buffers", 1u, "drop", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(bin), q, sink, nullptr);
  bool linked;
  if (encoded) {
    linked = gst_element_link(q, sink);
  } else {
    GstElement *scale = gst_element_factory_make("videoscale", nullptr);
    GstElement *conv = gst_element_factory_make("videoconvert", nullptr);
    GstElement *cf = gst_element_factory_make("capsfilter", nullptr);
    GstElement *enc = gst_element_factory_make("jpegenc", nullptr);
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, spec.width,
                                        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
    g_object_set(cf, "caps", caps, nullptr);
    gst_caps_unref(caps);
    gst_bin_add_many(GST_BIN(bin), scale, conv, cf, enc, nullptr);
    linked = gst_element_link_many(q, scale, conv, cf, enc, sink, nullptr);
  }
  if (!linked) {
    gst_object_unref(gst_object_ref_sink(bin));  // never added: drop the floating ref
    return "cannot link the thumbnail branch";
  }
  GstPad *qsink = gst_element_get_static_pad(q, "sink");
  gst_element_add_pad(bin, gst_ghost_pad_new("sink", qsink));
  gst_object_unref(qsink);

  auto *b = new Branch;
  b->path = spec.path;
  b->interval_us = static_cast<gint64>(spec.interval_seconds * 1e6);
  b->encoded = encoded;
  b->width = spec.width;
  b->decoders = decoders;
  g_object_set_data_full(G_OBJECT(bin), kBranchKey, b,
                         [](gpointer p) { delete static_cast<Branch *>(p); });
  GstAppSinkCallbacks cbs{};
  cbs.new_sample = on_sample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, b, nullptr);

  // The link is found by pads, so `downstream`'s pad may be a request pad (iptvhlssink video_0).
  GstPad *up_src = gst_element_get_static_pad(upstream, "src");
  GstPad *down_sink = up_src ? gst_pad_get_peer(up_src) : nullptr;
  if (!down_sink || GST_OBJECT_PARENT(down_sink) != GST_OBJECT(downstream)) {
    if (down_sink) gst_object_unref(down_sink);
    if (up_src) gst_object_unref(up_src);
    gst_object_unref(gst_object_ref_sink(bin));  // never added: drop the floating ref
    return "the thumbnail's tap point is not linked";
  }
  GstElement *tee = gst_element_factory_make("tee", "thumbnail-tee");
  g_object_set(tee, "allow-not-linked", TRUE, nullptr);
  gst_bin_add_many(pipeline, tee, bin, nullptr);
  gst_pad_unlink(up_src, down_sink);
  GstPad *tee_sink = gst_element_get_static_pad(tee, "sink");
  GstPad *tee_main = gst_element_request_pad_simple(tee, "src_%u");
  bool ok = gst_pad_link(up_src, tee_sink) == GST_PAD_LINK_OK &&
            gst_pad_link(tee_main, down_sink) == GST_PAD_LINK_OK && gst_element_link(tee, bin);
  if (!ok) {
    // Put the channel back as it was; the branch is left out.
    gst_pad_unlink(up_src, tee_sink);
    gst_pad_unlink(tee_main, down_sink);
    gst_element_release_request_pad(tee, tee_main);
    gst_element_set_state(bin, GST_STATE_NULL);
    gst_bin_remove_many(pipeline, tee, bin, nullptr);
    gst_pad_link(up_src, down_sink);
  }
  gst_object_unref(tee_main);
  gst_object_unref(tee_sink);
  gst_object_unref(down_sink);
  gst_object_unref(up_src);
  if (!ok) return "cannot insert the thumbnail tee";
  GstPad *sinkpad = gst_element_get_static_pad(bin, "sink");
  GstPad *teepad = gst_pad_get_peer(sinkpad);
  gst_pad_add_probe(teepad, GST_PAD_PROBE_TYPE_BUFFER, gate, b, nullptr);
  gst_object_unref(teepad);
  gst_object_unref(sinkpad);
  return "";
}

bool in_thumbnail_branch(GstObject *obj) {
  for (GstObject *o = obj ? GST_OBJECT(gst_object_ref(obj)) : nullptr; o;) {
    bool hit = GST_IS_BIN(o) && g_object_get_data(G_OBJECT(o), kBranchKey);
    GstObject *parent = gst_object_get_parent(o);
    gst_object_unref(o);
    if (hit) {
      if (parent) gst_object_unref(parent);
      return true;
    }
    o = parent;
  }
  return false;
}

void stop_thumbnail_branch(GstBin *pipeline) {
  GstElement *bin = gst_bin_get_by_name(pipeline, kThumbnailBin);
  if (!bin) return;
  if (auto *b = static_cast<Branch *>(g_object_get_data(G_OBJECT(bin), kBranchKey))) {
    b->stopped = true;
    b->reported = true;
  }
  gst_object_unref(bin);
}

}  // namespace iptv::worker
