// iptvctl events [--channel ID] [--type TYPE] [--limit N] [--follow] [--format text|json]
// Recent events, newest last; --follow keeps printing new ones (SSE, reconnecting with
// Last-Event-ID). --format json prints one JSON object per line.
#include <glib.h>

#include <algorithm>
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

namespace {
void print_event(const nlohmann::json &e, bool as_json) {
  if (as_json) {
    std::printf("%s\n", e.dump().c_str());
  } else {
    std::printf("%-6lld %s  %-20s %-14s %-8s %s\n", static_cast<long long>(e["id"].get<int64_t>()),
                e["created_at"].get<std::string>().c_str(),
                e["event_type"].get<std::string>().c_str(),
                e["channel_id"].get<std::string>().c_str(), e["status"].get<std::string>().c_str(),
                e["detail"].dump().c_str());
  }
  std::fflush(stdout);
}

std::string escape(const std::string &s) {
  gchar *e = g_uri_escape_string(s.c_str(), nullptr, FALSE);
  std::string out = e;
  g_free(e);
  return out;
}
}  // namespace

int cmd_events(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {"channel", "type", "limit", "max"},
                                           {"follow"}, o, &err) ||
      !o.args.empty()) {
    std::fprintf(stderr,
                 "iptvctl events: %s\nusage: iptvctl events [--channel ID] [--type TYPE] "
                 "[--limit N] [--follow [--max N]] [--format text|json]\n",
                 err.empty() ? "unexpected argument" : err.c_str());
    return 2;
  }
  bool json_out = o.format == "json";
  bool follow = std::find(o.switches.begin(), o.switches.end(), "follow") != o.switches.end();
  std::string q;
  if (o.flags.count("channel")) q += "&channel=" + escape(o.flags["channel"]);
  if (o.flags.count("type")) q += "&type=" + escape(o.flags["type"]);
  iptv::control::ApiClient client(o.url, o.key);
  std::string limit = o.flags.count("limit") ? o.flags["limit"] : "20";
  auto r = client.request("GET", "/api/v1/events?limit=" + escape(limit) + q);
  if (r.status != 200) return iptv::control::report_failure("events", r);
  auto events = r.json["events"];
  int64_t last = 0;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {  // oldest first
    print_event(*it, json_out);
    last = std::max(last, (*it)["id"].get<int64_t>());
  }
  if (!follow) return 0;
  // --max N: stop after N followed events (for scripts and tests).
  long max = o.flags.count("max") ? std::strtol(o.flags["max"].c_str(), nullptr, 10) : -1;
  long seen = 0;
  std::string path = "/api/v1/events/stream?after=" + std::to_string(last) + q;
  auto f = client.follow(path, [&](const nlohmann::json &e) {
    print_event(e, json_out);
    return max < 0 || ++seen < max;
  });
  if (f.status != 200) return iptv::control::report_failure("events", f);
  return 0;
}

}  // namespace iptvctl
