// Skeleton: the owning issue replaces this with the real element.
#include "gstiptvgapprobe.h"
#include "gstiptvelements.h"

struct _GstIptvGapProbe {
  GstElement parent;
};

G_DEFINE_TYPE(GstIptvGapProbe, gst_iptv_gap_probe, GST_TYPE_ELEMENT)
GST_ELEMENT_REGISTER_DEFINE(iptvgapprobe, "iptvgapprobe", GST_RANK_NONE, GST_TYPE_IPTV_GAP_PROBE)

static void gst_iptv_gap_probe_class_init(GstIptvGapProbeClass *klass) {
  gst_element_class_set_static_metadata(GST_ELEMENT_CLASS(klass), "iptvgapprobe (skeleton)",
                                        "Generic", "Skeleton", "gst-iptv");
}

static void gst_iptv_gap_probe_init(GstIptvGapProbe *) {}
