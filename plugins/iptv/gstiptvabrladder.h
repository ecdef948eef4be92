// iptvabrladder: one input, an ABR ladder of H.264 encoders with aligned keyframes.
// See the SECTION block in gstiptvabrladder.cpp and docs/iptvabrladder.md.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_IPTV_ABR_LADDER (gst_iptv_abr_ladder_get_type())
G_DECLARE_FINAL_TYPE(GstIptvAbrLadder, gst_iptv_abr_ladder, GST, IPTV_ABR_LADDER, GstBin)

G_END_DECLS
