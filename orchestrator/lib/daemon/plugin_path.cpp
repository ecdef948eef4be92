#include "daemon/plugin_path.h"

#include <glib.h>

#include <sys/wait.h>

#include <filesystem>

#include "daemon/install_paths.h"

namespace iptv::daemon {

namespace fs = std::filesystem;

std::vector<std::string> plugin_search_dirs() {
  std::vector<std::string> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // <build>/orchestrator/iptvd/iptvd -> <build>/plugins/iptv
    fs::path p = (exe.parent_path() / ".." / ".." / "plugins" / "iptv").lexically_normal();
    dirs.push_back(p.string());
  }
  dirs.push_back(IPTV_PLUGIN_INSTALL_DIR);
  return dirs;
}

std::string find_plugin_dir() {
  std::error_code ec;
  for (const auto &d : plugin_search_dirs())
    if (fs::exists(fs::path(d) / "libgstiptv.so", ec)) return d;
  return {};
}

std::string add_plugin_dir_to_env() {
  std::string dir = find_plugin_dir();
  if (dir.empty()) return {};
  for (const char *var : {"GST_PLUGIN_PATH_1_0", "GST_PLUGIN_PATH"}) {
    const char *cur = g_getenv(var);
    std::string v = dir;
    if (cur && *cur) {
      std::string c = cur;
      // Already there (a test or an operator set it): leave the variable alone.
      if (("" G_SEARCHPATH_SEPARATOR_S + c + G_SEARCHPATH_SEPARATOR_S)
              .find(G_SEARCHPATH_SEPARATOR_S + dir + G_SEARCHPATH_SEPARATOR_S) != std::string::npos)
        continue;
      v += G_SEARCHPATH_SEPARATOR_S + c;
    }
    g_setenv(var, v.c_str(), TRUE);
  }
  return dir;
}

std::string find_console_dir() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  // <build>/orchestrator/iptvd/iptvd -> <build>/console
  if (!ec) dirs.push_back((exe.parent_path() / ".." / ".." / "console").lexically_normal());
  dirs.push_back(IPTV_CONSOLE_INSTALL_DIR);
  for (const auto &d : dirs)
    if (fs::exists(d / "index.html", ec)) return d.string();
  return {};
}

const std::vector<std::string> &required_elements() {
  static const std::vector<std::string> names = {"iptvabrladder", "iptvhlssink", "iptvgapprobe"};
  return names;
}

std::string resolve_worker_path(const std::string &configured) {
  if (!configured.empty()) return configured;
  const char *env = g_getenv("IPTVD_WORKER");
  if (env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ((ec ? fs::path(".") : exe.parent_path()) / "iptvd-worker").string();
}

std::string missing_elements(const std::string &worker_path, std::string *error) {
  gchar *argv[] = {const_cast<gchar *>(worker_path.c_str()),
                   const_cast<gchar *>("--check-elements"), nullptr};
  gchar *out = nullptr, *err_text = nullptr;
  gint status = 0;
  GError *gerr = nullptr;
  if (!g_spawn_sync(nullptr, argv, nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, &err_text,
                    &status, &gerr)) {
    if (error) *error = "cannot run " + worker_path + ": " + gerr->message;
    g_error_free(gerr);
    return {};
  }
  std::string missing = out ? out : "";
  std::string stderr_text = err_text ? err_text : "";
  g_free(out);
  g_free(err_text);
  while (!missing.empty() && (missing.back() == '\n' || missing.back() == ' ')) missing.pop_back();
  // Exit 0: all present (nothing printed); 3: the missing names on stdout; anything else: the
  // worker itself is broken.
  if (g_spawn_check_wait_status(status, nullptr)) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3 && !missing.empty()) return missing;
  if (error) {
    while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
    *error = worker_path + " --check-elements failed" +
             (stderr_text.empty() ? std::string() : ": " + stderr_text);
  }
  return {};
}

}  // namespace iptv::daemon
