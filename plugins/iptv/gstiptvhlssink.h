// iptvhlssink: multi-rendition HLS with a multivariant playlist.
// See the SECTION block in gstiptvhlssink.cpp and docs/iptvhlssink.md.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_IPTV_HLS_SINK (gst_iptv_hls_sink_get_type())
G_DECLARE_FINAL_TYPE(GstIptvHlsSink, gst_iptv_hls_sink, GST, IPTV_HLS_SINK, GstBin)

G_END_DECLS
