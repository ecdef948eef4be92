#include "worker/thumbnail.h"

#include <gst/app/gstappsink.h>

#include <atomic>
#include <string>

#include "util/atomic_file.h"

namespace iptv::worker {

namespace {

struct Branch {
  std::string path;
  gint64 interval_us = 5000000;
  bool encoded = false;
  gint64 last_us = 0;  // when the last frame went in (monotonic); 0 none yet
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

// The appsink's thread: one JPEG, written beside the target and renamed over it.
GstFlowReturn on_sample(GstAppSink *sink, gpointer data) {
  auto *b = static_cast<Branch *>(data);
  GstSample *sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_OK;
  GstBuffer *buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buf && !b->stopped && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    std::string err = write_file_atomic(
        b->path, std::string_view(reinterpret_cast<const char *>(map.data), map.size));
    gst_buffer_unmap(buf, &map);
    if (!err.empty()) report(GST_ELEMENT(sink), b, err);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;  // never an error upstream: the branch just stops
}

}  // namespace

std::string add_thumbnail_branch(GstBin *pipeline, GstElement *upstream, GstElement *downstream,
                                 const ThumbnailEntry &spec, bool encoded) {
  if (spec.path.empty()) return "no thumbnail path";
  std::vector<const char *> factories = {"tee",        "queue",   "videoscale", "videoconvert",
                                         "capsfilter", "jpegenc", "appsink"};
  if (encoded) factories.push_back("decodebin");
  std::string missing;
  for (const char *f : factories) {
    GstElementFactory *fac = gst_element_factory_find(f);
    if (!fac)
      missing += std::string(missing.empty() ? "" : ", ") + f;
    else
      gst_object_unref(fac);
  }
  if (!missing.empty()) return "missing elements: " + missing;

  GstElement *bin = gst_bin_new(kThumbnailBin);
  GstElement *q = gst_element_factory_make("queue", nullptr);
  // Passthrough: a decodebin, since the source decides the codec (H.264 or H.265) after this
  // branch is built; it plugs the parser and avdec_h264/avdec_h265, one thread each.
  GstElement *dec = encoded ? gst_element_factory_make("decodebin", nullptr) : nullptr;
  GstElement *scale = gst_element_factory_make("videoscale", nullptr);
  GstElement *conv = gst_element_factory_make("videoconvert", nullptr);
  GstElement *cf = gst_element_factory_make("capsfilter", nullptr);
  GstElement *enc = gst_element_factory_make("jpegenc", nullptr);
  GstElement *sink = gst_element_factory_make("appsink", nullptr);
  // One buffer, the oldest dropped: the branch can never hold back the tee.
  g_object_set(q, "max-size-buffers", 1u, "max-size-bytes", 0u, "max-size-time", (guint64)0,
               "leaky", 2 /* downstream */, nullptr);
  if (dec) {
    g_signal_connect(dec, "deep-element-added",
                     G_CALLBACK(+[](GstBin *, GstBin *, GstElement *e, gpointer) {
                       if (g_object_class_find_property(G_OBJECT_GET_CLASS(e), "max-threads"))
                         g_object_set(e, "max-threads", 1, nullptr);
                     }),
                     nullptr);
    g_signal_connect(dec, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer s) {
                       GstPad *sink = gst_element_get_static_pad(GST_ELEMENT(s), "sink");
                       if (!gst_pad_is_linked(sink)) gst_pad_link(pad, sink);
                       gst_object_unref(sink);
                     }),
                     scale);
  }
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, spec.width,
                                      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
  g_object_set(cf, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(sink, "sync", FALSE, "async", FALSE, "max-buffers", 1u, "drop", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(bin), q, scale, conv, cf, enc, sink, nullptr);
  if (dec) gst_bin_add(GST_BIN(bin), dec);
  bool linked =
      dec ? gst_element_link(q, dec) && gst_element_link_many(scale, conv, cf, enc, sink, nullptr)
          : gst_element_link_many(q, scale, conv, cf, enc, sink, nullptr);
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
