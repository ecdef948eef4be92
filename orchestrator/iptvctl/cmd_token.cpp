// iptvctl token --channel ID --ttl SECONDS [--session S] [--ip A] --key-file F [--base URL]
//               [--mode edgeauth|securelink] [--secret-file F]
// Prints a playback URL whose path carries a signed token (see core/token/token.h).
#include <glib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "iptvctl/commands.h"
#include "token/token.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptvctl {

namespace {
int usage(FILE *out) {
  std::fprintf(out,
               "usage: iptvctl token --channel ID --ttl SECONDS --key-file FILE [--session ID]\n"
               "                     [--ip ADDRESS] [--base URL] [--mode edgeauth|securelink]\n"
               "  edgeauth (default): --key-file holds 'KID HEXSECRET' lines; the first signs.\n"
               "  securelink: --key-file holds the nginx secure_link secret (first line).\n"
               "Prints BASE/hls/ID/TOKEN/index.m3u8 (BASE: --base, else $IPTV_URL, else\n"
               "http://127.0.0.1:8080, as for the other commands).\n");
  return out == stdout ? 0 : 2;
}
}  // namespace

int cmd_token(int argc, char **argv) {
  std::string channel, key_file, session, ip, base, mode = "edgeauth";
  long ttl = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string &dst) {
      if (i + 1 >= argc) return false;
      dst = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") return usage(stdout);
    if (a == "--channel" && next(channel)) continue;
    if (a == "--key-file" && next(key_file)) continue;
    if (a == "--session" && next(session)) continue;
    if (a == "--ip" && next(ip)) continue;
    if (a == "--base" && next(base)) continue;
    if (a == "--mode" && next(mode)) continue;
    if (a == "--ttl" && next(v)) {
      ttl = std::strtol(v.c_str(), nullptr, 10);
      continue;
    }
    std::fprintf(stderr, "iptvctl token: unexpected argument '%s'\n", a.c_str());
    return usage(stderr);
  }
  if (channel.empty() || key_file.empty() || ttl <= 0 ||
      (mode != "edgeauth" && mode != "securelink")) {
    std::fprintf(stderr,
                 "iptvctl token: --channel, --key-file and a positive --ttl are required\n");
    return usage(stderr);
  }
  // The same origin the other commands talk to: IPTV_URL, as documented in docs/api.md.
  if (base.empty() && g_getenv("IPTV_URL") && *g_getenv("IPTV_URL")) base = g_getenv("IPTV_URL");
  if (base.empty()) base = "http://127.0.0.1:8080";
  while (iptv::ends_with(base, "/")) base.pop_back();
  int64_t now = g_get_real_time() / 1000000;
  std::string segment;
  if (mode == "securelink") {
    std::string text, err;
    if (!iptv::read_file(key_file, text, &err)) {
      std::fprintf(stderr, "iptvctl token: %s\n", err.c_str());
      return 1;
    }
    std::string secret = iptv::trim(iptv::split(text, '\n')[0]);
    segment = iptv::securelink_segment(channel, now + ttl, secret);
  } else {
    iptv::KeyRing ring;
    std::string err;
    if (!ring.load_file(key_file, &err)) {
      std::fprintf(stderr, "iptvctl token: %s\n", err.c_str());
      return 1;
    }
    iptv::TokenClaims c;
    c.start = now;
    c.expiry = now + ttl;
    c.acl = iptv::acl_for_channel(channel);
    c.session = session;
    c.ip = ip;
    segment = iptv::token_to_path_segment(iptv::sign_token(c, ring));
  }
  std::printf("%s/hls/%s/%s/index.m3u8\n", base.c_str(), channel.c_str(), segment.c_str());
  return 0;
}

}  // namespace iptvctl
