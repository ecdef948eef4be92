// iptvd-worker: one channel's media pipeline, supervised by iptvd.
//
//   iptvd-worker --spec FILE [--status-fd N]
//   iptvd-worker --group [--status-fd N]  (several passthrough channels; worker/group.h)
//   iptvd-worker --check-elements   (prints the iptv elements it cannot load; exit 3 if any)
//
// Status lines (JSON) go to fd N (default 1), commands (JSON lines) come on stdin; SIGTERM or
// {"cmd":"stop"} stops gracefully. The protocol is in docs/worker.md.
#include <gst/gst.h>
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string>

#include "daemon/plugin_path.h"
#include "worker/group.h"
#include "worker/spec.h"
#include "worker/status.h"
#include "worker/worker.h"

int main(int argc, char **argv) {
  // At most 2 malloc arenas (unless MALLOC_ARENA_MAX says otherwise): glibc gives each of a
  // worker's dozen streaming threads an arena of its own, each keeping its freed memory, which
  // was a quarter of a passthrough worker's private memory (docs/benchmarks.md, channel density).
  if (!g_getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
  // The iptv plugin beside this binary (build tree) or in the install prefix, before gst_init
  // (which the option parsing below runs): no GST_PLUGIN_PATH needed.
  iptv::daemon::add_plugin_dir_to_env();
  gchar *spec_path = nullptr;
  gint status_fd = 1;
  gboolean check_elements = FALSE;
  gint64 fencing_token = 0;  // docs/cluster.md: 0 when iptvd runs alone
  gboolean group = FALSE;
  GOptionEntry entries[] = {
      {"spec", 0, 0, G_OPTION_ARG_FILENAME, &spec_path, "Worker spec (JSON)", "FILE"},
      {"status-fd", 0, 0, G_OPTION_ARG_INT, &status_fd, "Write status lines to this fd", "N"},
      {"fencing-token", 0, 0, G_OPTION_ARG_INT64, &fencing_token,
       "In a cluster: the etcd revision of the channel's owner key this run publishes under",
       "REV"},
      {"group", 0, 0, G_OPTION_ARG_NONE, &group,
       "Run the channels the daemon starts on stdin, each its own pipeline, in this process",
       nullptr},
      {"check-elements", 0, 0, G_OPTION_ARG_NONE, &check_elements,
       "Print the iptv elements that cannot be loaded (exit 3 if any) and exit", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *ctx = g_option_context_new("- one iptvd channel pipeline");
  g_option_context_add_main_entries(ctx, entries, nullptr);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  GError *err = nullptr;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    std::fprintf(stderr, "iptvd-worker: %s\n", err->message);
    return 2;
  }
  g_option_context_free(ctx);
  if (check_elements) {
    // iptvd links no GStreamer: it asks this binary whether the plugin's elements load.
    std::string missing;
    for (const auto &n : iptv::daemon::required_elements()) {
      GstElementFactory *f = gst_element_factory_find(n.c_str());
      if (f) {
        gst_object_unref(f);
        continue;
      }
      missing += (missing.empty() ? "" : ", ") + n;
    }
    if (missing.empty()) return 0;
    std::printf("%s\n", missing.c_str());
    return 3;
  }
  if (group) {
    iptv::worker::WorkerGroup host(status_fd);
    return host.run();
  }
  iptv::worker::StatusWriter status(status_fd);
  if (!spec_path) {
    status.write(iptv::wire::Error{"--spec FILE is required"});
    return 2;
  }
  iptv::worker::WorkerSpec spec;
  try {
    spec = iptv::worker::load_spec_file(spec_path);
  } catch (const std::exception &e) {
    status.write(iptv::wire::Error{e.what()});
    return 2;
  }
  g_free(spec_path);
  if (fencing_token > 0)
    std::fprintf(stderr, "iptvd-worker: channel %s publishing under fencing token %lld\n",
                 spec.channel_id.c_str(), (long long)fencing_token);
  iptv::worker::Worker worker(std::move(spec), status);
  if (!worker.start()) return 1;
  return worker.run();
}
