// The iptv plugin: ABR ladder, multi-rendition HLS sink and stream-health probe.
#include "gstiptvelements.h"

static gboolean plugin_init(GstPlugin *plugin) {
  gboolean ret = FALSE;
  ret |= GST_ELEMENT_REGISTER(iptvabrladder, plugin);
  ret |= GST_ELEMENT_REGISTER(iptvhlssink, plugin);
  ret |= GST_ELEMENT_REGISTER(iptvgapprobe, plugin);
  return ret;
}

GST_PLUGIN_DEFINE(
    GST_VERSION_MAJOR, GST_VERSION_MINOR, iptv,
    "IPTV channel elements: ABR ladder, multi-rendition HLS sink, stream-health probe", plugin_init,
    VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
