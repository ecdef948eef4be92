// iptvctl: validate channel records, mint tokens, probe streams, ask the daemon.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "iptvctl/commands.h"

namespace {

struct Command {
  const char *name;
  int (*run)(int, char **);
  const char *help;
};

const Command kCommands[] = {
    {"validate", iptvctl::cmd_validate,
     "validate channel records: validate [--format json] PATH..."},
    {"token", iptvctl::cmd_token, "mint a playback URL with a signed token"},
    {"serve", iptvctl::cmd_serve, "serve HLS trees with the token-checking origin"},
    {"probe", iptvctl::cmd_probe, "check a live HLS stream as a viewer would (or two: --compare)"},
    {"status", iptvctl::cmd_status, "a table of the daemon's channels"},
    {"channel", iptvctl::cmd_channel, "channel show ID: one channel in detail"},
    {"events", iptvctl::cmd_events, "recent events; --follow streams new ones"},
    {"failover", iptvctl::cmd_failover, "failover ID [--return]: switch to backup / primary"},
    {"session", iptvctl::cmd_session, "session create|revoke: playback sessions"},
    {"diagnose", iptvctl::cmd_diagnose,
     "diagnose ID [--subject S] [--edge URL] [--record CAUSE]: the ten-step incident workflow"},
    {"restart", iptvctl::cmd_restart, "restart ID: a new worker for the channel"},
    {"purge", iptvctl::cmd_purge, "purge ID: edges and players refetch the manifests"},
    {"rendition", iptvctl::cmd_rendition, "rendition ID NAME --disable|--enable"},
};

int usage(FILE *out) {
  std::fprintf(out, "usage: iptvctl COMMAND [ARGS...]\n\ncommands:\n");
  for (const auto &c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
  std::fprintf(out, "\n'iptvctl COMMAND --help' describes one command.\n");
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr);
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(stdout);
  for (const auto &c : kCommands) {
    if (cmd == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "iptvctl: unknown command '%s'\n", argv[1]);
  return usage(stderr);
}
