// Skeleton: the owning issue replaces this with the real element.
#include "gstiptvabrladder.h"
#include "gstiptvelements.h"

struct _GstIptvAbrLadder {
  GstBin parent;
};

G_DEFINE_TYPE(GstIptvAbrLadder, gst_iptv_abr_ladder, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE(iptvabrladder, "iptvabrladder", GST_RANK_NONE, GST_TYPE_IPTV_ABR_LADDER)

static void gst_iptv_abr_ladder_class_init(GstIptvAbrLadderClass *klass) {
  gst_element_class_set_static_metadata(GST_ELEMENT_CLASS(klass), "iptvabrladder (skeleton)",
                                        "Generic", "Skeleton", "gst-iptv");
}

static void gst_iptv_abr_ladder_init(GstIptvAbrLadder *) {}
