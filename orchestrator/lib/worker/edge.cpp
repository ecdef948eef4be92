#include "worker/edge.h"

#include <gst/app/app.h>

namespace iptv::worker {

EdgeOutput::EdgeOutput(const OutputEntry &entry, std::function<void(const std::string &)> on_error)
    : entry_(entry), on_error_(std::move(on_error)) {}

EdgeOutput::~EdgeOutput() {
  stop();
  if (clock_) gst_object_unref(clock_);
}

bool EdgeOutput::start(std::string &error, GstClock *clock, GstClockTime base_time) {
  stop();
  if (clock) gst_object_replace((GstObject **)&clock_, GST_OBJECT(clock));
  if (base_time) base_time_ = base_time;
  std::string desc;
  // Sinks get their URI through GstURIHandler below; do-timestamp off, we forward the encoder's
  // timestamps.
  std::string common =
      "appsrc name=v is-live=true format=time max-bytes=33554432 ! queue ! h264parse "
      "config-interval=-1 ! mux. appsrc name=a is-live=true format=time max-bytes=8388608 ! "
      "queue ! aacparse ! mux. ";
  if (entry_.kind == "rtmp") {
    desc = common + "flvmux name=mux streamable=true ! rtmp2sink name=sink sync=false async=false";
  } else {
    desc = common + "mpegtsmux name=mux alignment=7 ! ";
    desc += entry_.kind == "srt"
                ? "srtsink name=sink wait-for-connection=false sync=false async=false"
                : "udpsink name=sink sync=false async=false";
  }
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  if (!p || err) {
    error = "output " + entry_.uri + ": " + (err ? err->message : "cannot build");
    if (err) g_error_free(err);
    if (p) gst_object_unref(p);
    return false;
  }
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
  GError *uerr = nullptr;
  bool ok = true;
  if (entry_.kind == "rtmp")
    g_object_set(sink, "location", entry_.uri.c_str(), nullptr);
  else
    ok = gst_uri_handler_set_uri(GST_URI_HANDLER(sink), entry_.uri.c_str(), &uerr);
  gst_object_unref(sink);
  if (!ok) {
    error = "output " + entry_.uri + ": " + (uerr ? uerr->message : "bad URI");
    if (uerr) g_error_free(uerr);
    gst_object_unref(p);
    return false;
  }
  std::lock_guard<std::mutex> g(lock_);
  pipeline_ = p;
  vsrc_ = gst_bin_get_by_name(GST_BIN(p), "v");
  asrc_ = gst_bin_get_by_name(GST_BIN(p), "a");
  vcaps_set_ = acaps_set_ = started_video_ = false;
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p));
  bus_watch_ = gst_bus_add_watch(bus, bus_cb, this);
  gst_object_unref(bus);
  if (clock_) gst_pipeline_use_clock(GST_PIPELINE(p), clock_);
  gst_element_set_start_time(p, GST_CLOCK_TIME_NONE);
  gst_element_set_base_time(p, base_time_);
  gst_element_set_state(p, GST_STATE_PLAYING);
  return true;
}

gboolean EdgeOutput::bus_cb(GstBus *, GstMessage *msg, gpointer data) {
  auto *self = static_cast<EdgeOutput *>(data);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    std::string m = err ? err->message : "error";
    if (err) g_error_free(err);
    self->on_error_(m);  // may stop() us: return FALSE below is not needed, stop removes the watch
  }
  return TRUE;
}

void EdgeOutput::push(bool video, GstBuffer *buf, GstCaps *caps) {
  std::lock_guard<std::mutex> g(lock_);
  if (!pipeline_) return;
  if (video && !started_video_) {
    if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) return;
    started_video_ = true;
  }
  if (!video && !started_video_) return;
  GstElement *src = video ? vsrc_ : asrc_;
  bool &set = video ? vcaps_set_ : acaps_set_;
  if (!set && caps) {
    gst_app_src_set_caps(GST_APP_SRC(src), caps);
    set = true;
  }
  gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_ref(buf));
}

void EdgeOutput::end_of_stream() {
  std::lock_guard<std::mutex> g(lock_);
  if (!pipeline_) return;
  gst_app_src_end_of_stream(GST_APP_SRC(vsrc_));
  gst_app_src_end_of_stream(GST_APP_SRC(asrc_));
}

void EdgeOutput::stop() {
  GstElement *p = nullptr;
  {
    std::lock_guard<std::mutex> g(lock_);
    p = pipeline_;
    pipeline_ = nullptr;
    if (vsrc_) gst_object_unref(vsrc_);
    if (asrc_) gst_object_unref(asrc_);
    vsrc_ = asrc_ = nullptr;
    if (bus_watch_) g_source_remove(bus_watch_);
    bus_watch_ = 0;
  }
  if (p) {
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
}

}  // namespace iptv::worker
