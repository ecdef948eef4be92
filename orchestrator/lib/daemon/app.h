// iptvd's wiring, the step after main (orchestrator/iptvd/main.cpp): the command line over the
// config file, the logger (one, created here and passed to everything that logs), the data
// folder, the token keys and the plugin check; then the pieces, each handed what it needs, in
// this order: the state store and webhooks, the origin, the channel manager (channel_manager.h:
// it starts every channel), the signals, the control plane mounted on the origin. Then it runs
// the main loop until SIGTERM/SIGINT.
#pragma once

namespace iptv::daemon {

// Runs iptvd; returns the process exit code.
int run_iptvd(int argc, char **argv);

}  // namespace iptv::daemon
