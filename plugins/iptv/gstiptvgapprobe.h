// Skeleton: the owning issue replaces this with the real element.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_IPTV_GAP_PROBE (gst_iptv_gap_probe_get_type())
G_DECLARE_FINAL_TYPE(GstIptvGapProbe, gst_iptv_gap_probe, GST, IPTV_GAP_PROBE, GstElement)

G_END_DECLS
