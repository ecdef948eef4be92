#include "viewers/origin_observer.h"

#include <glib.h>

namespace iptv::viewers {

void classify_rel(const std::string &rel, std::string *rendition, bool *media, bool *dash) {
  std::string r = rel.empty() || rel[0] != '/' ? rel : rel.substr(1);
  size_t slash = r.find('/');
  *rendition = slash == std::string::npos ? "" : r.substr(0, slash);
  std::string file = slash == std::string::npos ? r : r.substr(r.rfind('/') + 1);
  auto ends = [&](const char *suffix) { return g_str_has_suffix(file.c_str(), suffix); };
  *dash = ends(".mpd") || ends(".m4s");
  *media = !(ends(".m3u8") || ends(".mpd"));
}

void OriginViewerObserver::on_request(const ObservedRequest &o) {
  if (!o.known_channel) return;
  ViewerRequest r;
  r.channel = std::string(o.channel);
  classify_rel(std::string(o.rel), &r.rendition, &r.media, &r.dash);
  r.status = o.status;
  r.bytes = o.bytes;
  if (const char *ua = o.header("User-Agent")) r.user_agent = ua;
  // iptvd's own checks (self-watch, diagnosis) and iptvctl probe are not viewers.
  if (r.user_agent.rfind(kProbeUserAgentPrefix, 0) == 0) return;
  if (!region_header_.empty())
    if (const char *reg = o.header(region_header_.c_str())) r.region = reg;
  std::string q = cmcd_from_query(o.query);
  if (!q.empty()) parse_cmcd_payload(q, r.cmcd);
  for (const char *h : {"CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session"})
    if (const char *v = o.header(h)) parse_cmcd_payload(v, r.cmcd);
  r.now_ms = g_get_real_time() / 1000;
  stats_->record(r);
}

}  // namespace iptv::viewers
