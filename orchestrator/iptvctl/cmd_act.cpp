// iptvctl restart ID | purge ID | rendition ID NAME --disable|--enable
// The remedies `iptvctl diagnose` names, through the daemon's API (operator key):
// POST /api/v1/channels/{id}/actions/{restart,purge} and PUT .../renditions/{name}.
#include <algorithm>
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

namespace {

int act(const char *cmd, int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {}, {}, o, &err) || o.args.size() != 1) {
    std::fprintf(stderr, "iptvctl %s: %s\nusage: iptvctl %s ID\n", cmd,
                 err.empty() ? "expected one channel id" : err.c_str(), cmd);
    return 2;
  }
  iptv::control::ApiClient client(o.url, o.key);
  auto r = client.request("POST", "/api/v1/channels/" + o.args[0] + "/actions/" + cmd);
  if (r.status != 202) return iptv::control::report_failure(cmd, r);
  if (o.format == "json")
    std::printf("%s\n", r.json.dump(2).c_str());
  else
    std::printf("%s: %s\n", o.args[0].c_str(), r.json.value("message", "").c_str());
  return 0;
}

}  // namespace

int cmd_restart(int argc, char **argv) {
  return act("restart", argc, argv);
}

int cmd_purge(int argc, char **argv) {
  return act("purge", argc, argv);
}

int cmd_rendition(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  bool ok = iptv::control::parse_client_options(argc, argv, {}, {"disable", "enable"}, o, &err) &&
            o.args.size() == 2 && o.switches.size() == 1;
  if (!ok) {
    std::fprintf(stderr,
                 "iptvctl rendition: %s\nusage: iptvctl rendition ID NAME --disable|--enable\n",
                 err.empty() ? "expected ID NAME and one of --disable, --enable" : err.c_str());
    return 2;
  }
  bool enable = o.switches[0] == "enable";
  iptv::control::ApiClient client(o.url, o.key);
  auto r = client.request("PUT", "/api/v1/channels/" + o.args[0] + "/renditions/" + o.args[1],
                          nlohmann::json{{"enabled", enable}});
  if (r.status != 202) return iptv::control::report_failure("rendition", r);
  if (o.format == "json")
    std::printf("%s\n", r.json.dump(2).c_str());
  else
    std::printf("%s %s: %s\n", o.args[0].c_str(), o.args[1].c_str(),
                r.json.value("message", "").c_str());
  return 0;
}

}  // namespace iptvctl
