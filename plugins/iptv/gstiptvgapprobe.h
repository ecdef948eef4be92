// iptvgapprobe: a pass-through sensor for segment gaps, timestamp sanity, silence, black and
// freeze. See the SECTION block in gstiptvgapprobe.cpp and docs/iptvgapprobe.md.
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_IPTV_GAP_PROBE (gst_iptv_gap_probe_get_type())
G_DECLARE_FINAL_TYPE(GstIptvGapProbe, gst_iptv_gap_probe, GST, IPTV_GAP_PROBE, GstBaseTransform)

G_END_DECLS
