// Skeleton: the owning issue replaces this with the real element.
#include "gstiptvhlssink.h"
#include "gstiptvelements.h"

struct _GstIptvHlsSink {
  GstBin parent;
};

G_DEFINE_TYPE(GstIptvHlsSink, gst_iptv_hls_sink, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE(iptvhlssink, "iptvhlssink", GST_RANK_NONE, GST_TYPE_IPTV_HLS_SINK)

static void gst_iptv_hls_sink_class_init(GstIptvHlsSinkClass *klass) {
  gst_element_class_set_static_metadata(GST_ELEMENT_CLASS(klass), "iptvhlssink (skeleton)",
                                        "Generic", "Skeleton", "gst-iptv");
}

static void gst_iptv_hls_sink_init(GstIptvHlsSink *) {}
