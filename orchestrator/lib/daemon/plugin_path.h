// Where iptvd and iptvd-worker find the iptv GStreamer plugin (libgstiptv.so) without any
// environment variable: beside their own binary in the build tree (<build>/plugins/iptv), then
// the install prefix's GStreamer plugin folder. GLib only: iptvd links no GStreamer. See
// docs/iptvd.md, "Finding the plugin".
#pragma once

#include <string>
#include <vector>

namespace iptv::daemon {

// The folders searched, in order: <dir of /proc/self/exe>/../../plugins/iptv (the build tree),
// then the meson install dir for gstreamer-1.0 plugins.
std::vector<std::string> plugin_search_dirs();

// The first search dir that holds libgstiptv.so, or "" when none does.
std::string find_plugin_dir();

// Prepends find_plugin_dir() to GST_PLUGIN_PATH (and GST_PLUGIN_PATH_1_0) of this process, so
// gst_init here and in every child process it spawns loads the plugin. Call before gst_init.
// Returns the dir added ("" when none was found; an existing GST_PLUGIN_PATH is kept as is).
std::string add_plugin_dir_to_env();

// The operator console's built files (docs/console.md): <dir of /proc/self/exe>/../../console
// (the build tree), then the install prefix's share/gst-iptv/console; "" when neither holds an
// index.html.
std::string find_console_dir();

// The factory names a worker needs from the iptv plugin.
const std::vector<std::string> &required_elements();

// The worker binary iptvd runs: `configured` when given, else $IPTVD_WORKER, else iptvd-worker
// beside this binary.
std::string resolve_worker_path(const std::string &configured);

// Asks the worker binary (`iptvd-worker --check-elements`, which loads GStreamer; iptvd itself
// links none) which of required_elements() it cannot find. Returns "" when all load, the missing
// names otherwise (e.g. "iptvabrladder, iptvhlssink"); *error is set (and "" returned) when the
// worker cannot be run at all.
std::string missing_elements(const std::string &worker_path, std::string *error);

}  // namespace iptv::daemon
