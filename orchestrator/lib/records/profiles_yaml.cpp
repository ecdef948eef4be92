#include "records/profiles_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>

#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv {
namespace {

bool parse_int(std::string_view s, int &out) {
  if (s.empty() || s.size() > 6) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out > 0;
}

std::string mark_prefix(const std::string &file, const YAML::Mark &m) {
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": ";
}

}  // namespace

bool load_profiles_file(ProfileCatalog &catalog, const std::string &path,
                        std::vector<std::string> *errors) {
  std::string text, err;
  if (!iptv::read_file(path, text, &err)) {
    if (errors) errors->push_back(err);
    return false;
  }
  return load_profiles_yaml(catalog, text, path, errors);
}

bool load_profiles_yaml(ProfileCatalog &catalog, std::string_view text, const std::string &file,
                        std::vector<std::string> *errors) {
  size_t before = errors ? errors->size() : 0;
  auto fail = [&](const YAML::Mark &m, const std::string &msg) {
    if (errors) errors->push_back(mark_prefix(file, m) + msg);
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException &e) {
    fail(e.mark, "YAML syntax error: " + e.msg);
    return false;
  }
  if (root.IsNull()) return true;
  if (!root.IsMap()) {
    fail(root.Mark(), "profiles: expected a mapping of profile names");
    return false;
  }
  static const std::vector<std::string> kFields = {"width", "height", "kbps", "max_fps"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string name = it->first.Scalar();
    const YAML::Node v = it->second;  // a copy: it->second lives in a temporary
    std::string path = "profiles." + name;
    if (name == "passthrough" || parse_explicit_profile(name)) {
      fail(it->first.Mark(), path + ": reserved profile name");
      continue;
    }
    if (!v.IsMap()) {
      fail(v.Mark(), path + ": expected a mapping with width, height and kbps");
      continue;
    }
    Profile p;
    p.name = name;
    bool ok = true;
    for (auto f = v.begin(); f != v.end(); ++f) {
      std::string key = f->first.Scalar();
      int *dst = key == "width"     ? &p.width
                 : key == "height"  ? &p.height
                 : key == "kbps"    ? &p.kbps
                 : key == "max_fps" ? &p.max_fps
                                    : nullptr;
      if (!dst) {
        std::string near = nearest(key, kFields);
        fail(f->first.Mark(), path + ": unknown key '" + key + "'" +
                                  (near.empty() ? "" : " (did you mean '" + near + "'?)"));
        ok = false;
        continue;
      }
      if (!f->second.IsScalar() || !parse_int(f->second.Scalar(), *dst)) {
        fail(f->second.Mark(), path + "." + key + ": expected a positive integer");
        ok = false;
      }
    }
    if (ok && (p.width == 0 || p.height == 0 || p.kbps == 0)) {
      fail(v.Mark(), path + ": width, height and kbps are required");
      ok = false;
    }
    if (ok && (p.width % 2 || p.height % 2)) {
      fail(v.Mark(), path + ": width and height must be even");
      ok = false;
    }
    if (ok) catalog.set(p);
  }
  return !errors || errors->size() == before;
}

}  // namespace iptv
