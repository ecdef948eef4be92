// iptvctl serve --channel ID=DIR [--channel ID=DIR ...] [--address A] [--port P]
//               [--key-file F | --securelink-secret-file F] [--idle-timeout S]
//               [--header-timeout S] [--backlog N]
// Serves HLS trees with the same origin iptvhlssink and iptvd use, until interrupted.
#include <glib-unix.h>
#include <glib.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "iptvctl/commands.h"
#include "origin/origin.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptvctl {

namespace {
int usage(FILE *out) {
  std::fprintf(
      out,
      "usage: iptvctl serve --channel ID=DIR [--channel ID=DIR ...] [--address ADDR]\n"
      "                     [--port PORT] [--key-file FILE | --securelink-secret-file FILE]\n"
      "                     [--idle-timeout SECONDS] [--header-timeout SECONDS] [--backlog N]\n"
      "                     [--threads N]\n"
      "Serves each DIR under /hls/ID/; with --key-file every request needs a token\n"
      "(see 'iptvctl token'). Idle keep-alive connections close after --idle-timeout\n"
      "(default 30 s), requests not received in full within --header-timeout (default 10 s)\n"
      "are dropped; --backlog is the listen backlog (default 4096); --threads is the number of\n"
      "serving threads (default 0: one per core). Stops on SIGINT or SIGTERM.\n");
  return out == stdout ? 0 : 2;
}
}  // namespace

int cmd_serve(int argc, char **argv) {
  iptv::OriginConfig cfg;
  cfg.port = 8080;
  std::vector<std::pair<std::string, std::string>> channels;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(stdout);
    if (i + 1 >= argc) return usage(stderr);
    std::string v = argv[++i];
    if (a == "--channel") {
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return usage(stderr);
      channels.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--address") {
      cfg.address = v;
    } else if (a == "--port") {
      cfg.port = std::atoi(v.c_str());
    } else if (a == "--idle-timeout" || a == "--header-timeout" || a == "--backlog" ||
               a == "--threads") {
      char *end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      long lo = a == "--backlog" ? 16 : a == "--threads" ? 0 : 1;
      long hi = a == "--backlog" ? 65535 : a == "--threads" ? 256 : 3600;
      if (v.empty() || *end || n < lo || n > hi) {
        std::fprintf(stderr, "iptvctl serve: %s: '%s' is not a number in %ld..%ld\n", a.c_str(),
                     v.c_str(), lo, hi);
        return 2;
      }
      (a == "--idle-timeout"     ? cfg.limits.idle_timeout_s
       : a == "--header-timeout" ? cfg.limits.header_timeout_s
       : a == "--threads"        ? cfg.threads
                                 : cfg.limits.backlog) = static_cast<int>(n);
    } else if (a == "--key-file") {
      std::string err;
      if (!cfg.keys.load_file(v, &err)) {
        std::fprintf(stderr, "iptvctl serve: %s\n", err.c_str());
        return 1;
      }
      cfg.mode = iptv::TokenMode::kEdgeAuth;
    } else if (a == "--securelink-secret-file") {
      std::string text, err;
      if (!iptv::read_file(v, text, &err)) {
        std::fprintf(stderr, "iptvctl serve: %s\n", err.c_str());
        return 1;
      }
      cfg.securelink_secret = iptv::trim(iptv::split(text, '\n')[0]);
      cfg.mode = iptv::TokenMode::kSecureLink;
    } else {
      return usage(stderr);
    }
  }
  if (channels.empty()) return usage(stderr);
  iptv::raise_fd_limit();  // every viewer connection is a descriptor
  iptv::Origin origin(cfg);
  std::string err;
  if (!origin.start(&err)) {
    std::fprintf(stderr, "iptvctl serve: %s\n", err.c_str());
    return 1;
  }
  for (auto &[id, dir] : channels) {
    origin.add_channel(id, dir);
    std::printf("serving %s on http://%s:%d/hls/%s/%s\n", dir.c_str(), cfg.address.c_str(),
                origin.port(), id.c_str(), cfg.mode == iptv::TokenMode::kNone ? "" : "<token>/");
  }
  std::fflush(stdout);
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  auto quit = [](gpointer l) -> gboolean {
    g_main_loop_quit(static_cast<GMainLoop *>(l));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add(SIGINT, quit, loop);
  g_unix_signal_add(SIGTERM, quit, loop);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  origin.stop();
  return 0;
}

}  // namespace iptvctl
