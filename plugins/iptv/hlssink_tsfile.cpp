#include "hlssink_tsfile.h"

#include <fcntl.h>
#include <gst/base/gstbasesink.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hlssink_tsparts.h"
#include "util/atomic_file.h"

GST_DEBUG_CATEGORY_STATIC(iptv_ts_file_sink_debug);
#define GST_CAT_DEFAULT iptv_ts_file_sink_debug

struct IptvTsFileSink {
  GstBaseSink parent;
  gchar *location;
  int fd;
  gboolean failed;      // this fragment could not be written: the rest of it is discarded
  GByteArray *pending;  // written in 64 KiB blocks (the muxer's buffers are single TS packets)
  // Low latency (iptv_ts_file_sink_set_parts): the fragment is written part by part.
  iptv::TsPartCutter *cutter;
  guint part_index;
  IptvTsPartFunc part_func;
  gpointer part_data;
};
struct IptvTsFileSinkClass {
  GstBaseSinkClass parent_class;
};

G_DEFINE_TYPE(IptvTsFileSink, iptv_ts_file_sink, GST_TYPE_BASE_SINK)

enum { PROP_0, PROP_LOCATION };

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void fail(IptvTsFileSink *self, const char *what, int err) {
  if (self->failed) return;
  self->failed = TRUE;
  if (self->fd >= 0) {
    ::close(self->fd);
    self->fd = -1;
  }
  if (self->location) ::unlink(self->location);  // never a partial segment on disk
  GST_ELEMENT_WARNING(
      self, RESOURCE, WRITE, ("Could not write a segment"),
      ("%s %s: %s", what, self->location ? self->location : "?", std::strerror(err)));
}

static void flush(IptvTsFileSink *self);

// `<stem>.<index>.ts` beside the fragment's `<stem>.ts`.
static std::string part_path(const char *location, guint index) {
  std::string loc = location ? location : "";
  std::string stem = loc.size() > 3 && loc.compare(loc.size() - 3, 3, ".ts") == 0
                         ? loc.substr(0, loc.size() - 3)
                         : loc;
  return stem + "." + std::to_string(index) + ".ts";
}

// Writes one part: its own file first (complete before anyone is told of it), then the same
// bytes onto the fragment's file; then reports it.
static void write_part(IptvTsFileSink *self, const iptv::TsPartCutter::Part &part, bool last) {
  if (self->failed || self->fd < 0) return;
  std::string path = part_path(self->location, self->part_index);
  std::string err = iptv::write_file_atomic(
      path, {reinterpret_cast<const char *>(part.bytes.data()), part.bytes.size()});
  if (!err.empty()) {
    int e = errno ? errno : EIO;
    GST_WARNING_OBJECT(self, "%s", err.c_str());
    ::unlink(path.c_str());
    fail(self, "write a part of", e);
    return;
  }
  g_byte_array_append(self->pending, part.bytes.data(), (guint)part.bytes.size());
  flush(self);
  if (self->failed) {
    ::unlink(path.c_str());
    return;
  }
  if (self->part_func)
    self->part_func(self->location, self->part_index, path.c_str(), part.bytes.size(),
                    (double)part.duration / iptv::TsPartCutter::kClock, part.independent, last,
                    self->part_data);
  self->part_index++;
}

static gboolean ts_start(GstBaseSink *sink) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(sink);
  self->failed = FALSE;
  self->fd = -1;
  g_byte_array_set_size(self->pending, 0);
  self->part_index = 0;
  if (self->cutter) self->cutter->begin_segment();
  if (!self->location) return TRUE;
  self->fd = ::open(self->location, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (self->fd < 0) fail(self, "open", errno);
  return TRUE;
}

static gboolean ts_stop(GstBaseSink *sink) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(sink);
  flush(self);
  if (self->fd >= 0 && ::close(self->fd) != 0 && !self->failed) {
    self->fd = -1;
    fail(self, "close", errno);
  }
  self->fd = -1;
  return TRUE;
}

static constexpr guint kBlock = 64 * 1024;

static void flush(IptvTsFileSink *self) {
  size_t off = 0;
  while (!self->failed && self->fd >= 0 && off < self->pending->len) {
    ssize_t n = ::write(self->fd, self->pending->data + off, self->pending->len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(self, "write", errno);
      break;
    }
    off += static_cast<size_t>(n);
  }
  g_byte_array_set_size(self->pending, 0);
}

static GstFlowReturn ts_render(GstBaseSink *sink, GstBuffer *buf) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(sink);
  if (self->failed || self->fd < 0) return GST_FLOW_OK;
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return GST_FLOW_OK;
  if (self->cutter) {
    std::vector<iptv::TsPartCutter::Part> parts;
    self->cutter->feed(map.data, map.size, parts);
    gst_buffer_unmap(buf, &map);
    for (const auto &part : parts) write_part(self, part, false);
    return GST_FLOW_OK;
  }
  g_byte_array_append(self->pending, map.data, map.size);
  gst_buffer_unmap(buf, &map);
  if (self->pending->len >= kBlock) flush(self);
  return GST_FLOW_OK;
}

// Everything is on disk (or the fragment is gone) before EOS is posted: splitmuxsink reports the
// fragment closed on that EOS, and iptvhlssink then stats and lists the file.
static gboolean ts_event(GstBaseSink *sink, GstEvent *event) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(sink);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    if (self->cutter)
      if (auto last = self->cutter->finish()) write_part(self, *last, true);
    flush(self);
    if (self->fd >= 0 && !self->failed && ::close(self->fd) != 0) {
      int e = errno;
      self->fd = -1;
      fail(self, "close", e);
    }
    self->fd = -1;
  }
  return GST_BASE_SINK_CLASS(iptv_ts_file_sink_parent_class)->event(sink, event);
}

static void ts_set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(obj);
  if (id == PROP_LOCATION) {
    g_free(self->location);
    self->location = g_value_dup_string(v);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
  }
}

static void ts_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(obj);
  if (id == PROP_LOCATION)
    g_value_set_string(v, self->location);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
}

static void ts_finalize(GObject *obj) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(obj);
  if (self->fd >= 0) ::close(self->fd);
  g_byte_array_unref(self->pending);
  delete self->cutter;
  g_free(self->location);
  G_OBJECT_CLASS(iptv_ts_file_sink_parent_class)->finalize(obj);
}

static void iptv_ts_file_sink_class_init(IptvTsFileSinkClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  oc->set_property = ts_set_property;
  oc->get_property = ts_get_property;
  oc->finalize = ts_finalize;
  g_object_class_install_property(
      oc, PROP_LOCATION,
      g_param_spec_string("location", "Location", "The file of the current fragment", nullptr,
                          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  GstElementClass *ec = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(ec, &sink_template);
  gst_element_class_set_static_metadata(ec, "iptvhlssink TS file sink", "Sink/File",
                                        "Writes TS fragments; a failed write drops the fragment",
                                        "gst-iptv");
  GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(klass);
  bc->start = ts_start;
  bc->stop = ts_stop;
  bc->render = ts_render;
  bc->event = ts_event;
  GST_DEBUG_CATEGORY_INIT(iptv_ts_file_sink_debug, "iptvtsfilesink", 0, "iptvhlssink TS files");
}

static void iptv_ts_file_sink_init(IptvTsFileSink *self) {
  self->fd = -1;
  self->pending = g_byte_array_sized_new(kBlock + 4096);
  gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
  gst_base_sink_set_async_enabled(GST_BASE_SINK(self), FALSE);
}

GstElement *iptv_ts_file_sink_new(void) {
  return GST_ELEMENT(g_object_new(iptv_ts_file_sink_get_type(), nullptr));
}

void iptv_ts_file_sink_set_parts(GstElement *sink, double part_seconds, IptvTsPartFunc func,
                                 gpointer user_data) {
  auto *self = reinterpret_cast<IptvTsFileSink *>(sink);
  delete self->cutter;
  self->cutter = part_seconds > 0 ? new iptv::TsPartCutter(part_seconds) : nullptr;
  self->part_func = func;
  self->part_data = user_data;
}
