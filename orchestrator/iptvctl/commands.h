// iptvctl subcommands. Each lives in its own cmd_*.cpp; main.cpp only dispatches.
#pragma once

namespace iptvctl {

// Each returns the process exit code. argv[0] is the subcommand name.
int cmd_validate(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_channel(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_failover(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_rendition(int argc, char **argv);

}  // namespace iptvctl
