// One GST_ELEMENT_REGISTER_DECLARE per element of the iptv plugin.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE(iptvabrladder);
GST_ELEMENT_REGISTER_DECLARE(iptvhlssink);
GST_ELEMENT_REGISTER_DECLARE(iptvgapprobe);

G_END_DECLS
