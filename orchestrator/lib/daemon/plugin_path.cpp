#include "daemon/plugin_path.h"

#include <glib.h>
#include <gst/gst.h>

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

const std::vector<std::string> &required_elements() {
  static const std::vector<std::string> names = {"iptvabrladder", "iptvhlssink", "iptvgapprobe"};
  return names;
}

std::string missing_elements() {
  if (!gst_is_initialized()) gst_init(nullptr, nullptr);
  std::string missing;
  for (const auto &n : required_elements()) {
    GstElementFactory *f = gst_element_factory_find(n.c_str());
    if (f) {
      gst_object_unref(f);
      continue;
    }
    missing += (missing.empty() ? "" : ", ") + n;
  }
  return missing;
}

}  // namespace iptv::daemon
