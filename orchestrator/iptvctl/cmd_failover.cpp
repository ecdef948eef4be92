// iptvctl failover ID [--return]
// Switches a channel to its backup now, or (--return) back to its primary. Needs an operator key.
#include <algorithm>
#include <cstdio>

#include "control/client.h"
#include "iptvctl/commands.h"

namespace iptvctl {

int cmd_failover(int argc, char **argv) {
  iptv::control::ClientOptions o;
  std::string err;
  if (!iptv::control::parse_client_options(argc, argv, {}, {"return"}, o, &err) ||
      o.args.size() != 1) {
    std::fprintf(stderr, "iptvctl failover: %s\nusage: iptvctl failover ID [--return]\n",
                 err.empty() ? "expected one channel id" : err.c_str());
    return 2;
  }
  bool back = std::find(o.switches.begin(), o.switches.end(), "return") != o.switches.end();
  iptv::control::ApiClient client(o.url, o.key);
  auto r = client.request(
      "POST", "/api/v1/channels/" + o.args[0] + "/actions/" + (back ? "return" : "failover"));
  if (r.status == 409 && r.json.is_object() && r.json.value("error", "") == "refused") {
    std::fprintf(stderr, "iptvctl failover: %s: %s refused (%s): %s\n", o.args[0].c_str(),
                 back ? "return to primary" : "failover", r.json.value("reason", "").c_str(),
                 r.json.value("message", "").c_str());
    return 1;
  }
  if (r.status != 202) return iptv::control::report_failure("failover", r);
  if (o.format == "json")
    std::printf("%s\n", r.json.dump(2).c_str());
  else
    std::printf("%s: %s accepted (%s)\n", o.args[0].c_str(),
                back ? "return to primary" : "failover", r.json.value("message", "").c_str());
  return 0;
}

}  // namespace iptvctl
