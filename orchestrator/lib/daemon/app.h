// iptvd's wiring, the step after main (orchestrator/iptvd/main.cpp): the config file under the
// command-line flags, the logger's format and secrets, the data folder, the token keys and the
// plugin check; then the pieces, each handed what it needs, in this order: the state store and
// webhooks, the origin, the channel manager (channel_manager.h, which starts every channel), the
// main loop's triggers (signals, the channels folder, timers), the control plane mounted on the
// origin. Then it runs the main loop until SIGTERM/SIGINT.
#pragma once

#include "daemon/command_line.h"

namespace iptv::log {
class Logger;
}

namespace iptv::daemon {

// Runs iptvd; returns the process exit code. `logger` is the daemon's one logger (main owns it:
// it outlives everything that logs).
int run_app(const CommandLine &cl, log::Logger &logger);

}  // namespace iptv::daemon
