// iptvctl events [--channel ID] [--type TYPE] [--limit N] [--follow [--since ID]]
//                [--format text|json]
// Recent events, newest last. --follow prints new events from now on (SSE, reconnecting with
// Last-Event-ID after a drop or a daemon restart); --since ID replays those after ID first (0: the
// whole history), --limit N the last N. --format json prints one JSON object per line.
#include <glib.h>

#include <algorithm>
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

namespace {
// Wide enough for every event type iptvd emits (the longest: probe.condition.cleared).
constexpr size_t kTypeWidth = 24;

void print_event(const nlohmann::json &e, bool as_json) {
  if (as_json) {
    std::printf("%s\n", e.dump().c_str());
  } else {
    // Fixed columns: a type longer than its column is cut (--format json has it whole).
    std::string type = e["event_type"].get<std::string>();
    if (type.size() > kTypeWidth) type = type.substr(0, kTypeWidth - 1) + "~";
    std::printf("%-6lld %s  %-*s %-14s %-8s %s\n", static_cast<long long>(e["id"].get<int64_t>()),
                e["created_at"].get<std::string>().c_str(), (int)kTypeWidth, type.c_str(),
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
  if (!iptv::control::parse_client_options(argc, argv, {"channel", "type", "limit", "max", "since"},
                                           {"follow"}, o, &err) ||
      !o.args.empty()) {
    std::fprintf(stderr,
                 "iptvctl events: %s\nusage: iptvctl events [--channel ID] [--type TYPE] "
                 "[--limit N] [--follow [--since ID] [--max N]] [--format text|json]\n",
                 err.empty() ? "unexpected argument" : err.c_str());
    return 2;
  }
  bool json_out = o.format == "json";
  bool follow = std::find(o.switches.begin(), o.switches.end(), "follow") != o.switches.end();
  std::string q;
  if (o.flags.count("channel")) q += "&channel=" + escape(o.flags["channel"]);
  if (o.flags.count("type")) q += "&type=" + escape(o.flags["type"]);
  iptv::control::ApiClient client(o.url, o.key);
  int64_t last = 0;
  if (follow && o.flags.count("since")) {
    char *end = nullptr;
    last = std::strtoll(o.flags["since"].c_str(), &end, 10);
    if (o.flags["since"].empty() || *end || last < 0) {
      std::fprintf(stderr, "iptvctl events: --since wants an event id (0: from the start)\n");
      return 2;
    }
  } else if (!follow || o.flags.count("limit")) {
    std::string limit = o.flags.count("limit") ? o.flags["limit"] : "20";
    auto r = client.request("GET", "/api/v1/events?limit=" + escape(limit) + q);
    if (r.status != 200) return iptv::control::report_failure("events", r);
    auto events = r.json["events"];
    for (auto it = events.rbegin(); it != events.rend(); ++it) {  // oldest first
      print_event(*it, json_out);
      last = std::max(last, (*it)["id"].get<int64_t>());
    }
    if (!follow) return 0;
  } else {
    // From now on: the id of the newest event, whatever its channel or type.
    auto r = client.request("GET", "/api/v1/events?limit=1");
    if (r.status != 200) return iptv::control::report_failure("events", r);
    for (const auto &e : r.json["events"]) last = std::max(last, e["id"].get<int64_t>());
  }
  // --max N: stop after N followed events (for scripts and tests).
  long max = o.flags.count("max") ? std::strtol(o.flags["max"].c_str(), nullptr, 10) : -1;
  long seen = 0;
  std::string path = "/api/v1/events/stream?after=" + std::to_string(last) + q;
  auto f = client.follow(
      path,
      [&](const nlohmann::json &e) {
        print_event(e, json_out);
        return max < 0 || ++seen < max;
      },
      [&](const std::string &why, const std::string &last_id) {
        std::string after = last_id.empty() ? std::to_string(last) : last_id;
        if (why == "reconnected")
          std::fprintf(stderr, "iptvctl events: reconnected, resuming after event %s\n",
                       after.c_str());
        else
          std::fprintf(stderr, "iptvctl events: %s; reconnecting (will resume after event %s)\n",
                       why.c_str(), after.c_str());
      });
  if (f.status != 200) return iptv::control::report_failure("events", f);
  return 0;
}

}  // namespace iptvctl
