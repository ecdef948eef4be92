#include "daemon/command_line.h"

#include <cstdio>

namespace iptv::daemon {

namespace {

const char kUsage[] =
    "usage: iptvd [--config FILE] [--channels DIR] [--data DIR] [--listen ADDR:PORT]\n"
    "             [--log-format text|json] [--log-level LEVEL] [--role edge|cloud|any]\n"
    "             [--node NAME] [--worker PATH] [--no-watch]\n"
    "\n"
    "Runs every channel record in --channels (default: channels) as a supervised live pipeline,\n"
    "packages HLS under --data (default: var) and serves it, the API and /metrics on --listen.\n"
    "Flags override the config file (see docs/iptvd-config.md). SIGHUP reloads the channels;\n"
    "SIGTERM stops after finishing open segments.\n";

}  // namespace

int parse_command_line(int argc, char **argv, CommandLine *out) {
  CommandLine &c = *out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string *value = a == "--config"       ? &c.config_path
                         : a == "--channels"   ? &c.channels
                         : a == "--data"       ? &c.data
                         : a == "--listen"     ? &c.listen
                         : a == "--log-format" ? &c.log_format
                         : a == "--log-level"  ? &c.log_level
                         : a == "--role"       ? &c.role
                         : a == "--node"       ? &c.node
                         : a == "--worker"     ? &c.worker
                                               : nullptr;
    if (value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "iptvd: %s needs a value\n", a.c_str());
        return 2;
      }
      *value = argv[++i];
    } else if (a == "--no-watch") {
      c.no_watch = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "iptvd: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  return -1;
}

}  // namespace iptv::daemon
