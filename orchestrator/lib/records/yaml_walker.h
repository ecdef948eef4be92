// The strict YAML walker shared by the channel-record loader and the daemon config: every
// check appends a LoadError with file, line, column and field path instead of throwing, so all
// errors of a file are reported in one run; unknown keys get a "did you mean" suggestion.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "records/loader.h"
#include "util/strutil.h"

namespace iptv {

class YamlWalker {
 public:
  // `unnamed` names text that came from no file (e.g. "<config>") in the errors.
  YamlWalker(const std::string &file, std::vector<LoadError> &errors,
             const std::string &unnamed = "")
      : file_(file.empty() ? unnamed : file), errors_(errors) {}

  void error(const YAML::Node &n, const std::string &path, const std::string &msg) {
    LoadError e;
    e.file = file_;
    YAML::Mark m = n.IsDefined() ? n.Mark() : last_map_mark_;  // missing: point at its parent
    if (m.line >= 0) {
      e.line = m.line + 1;
      e.column = m.column + 1;
    }
    e.path = path;
    e.message = msg;
    errors_.push_back(std::move(e));
    ++count_;
  }
  int count() const { return count_; }

  // Checks that `n` is a mapping with only `known` keys (and no duplicates).
  bool mapping(const YAML::Node &n, const std::string &path,
               const std::vector<std::string> &known) {
    if (!n.IsMap()) {
      error(n, path, "expected a mapping, got " + kind(n));
      return false;
    }
    last_map_mark_ = n.Mark();
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.Scalar();
      std::string kp = path.empty() ? key : path + "." + key;
      if (!seen.insert(key).second) error(it->first, kp, "duplicate key '" + key + "'");
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string msg = "unknown key '" + key + "'";
        std::string near = nearest(key, known);
        if (!near.empty()) msg += " (did you mean '" + near + "'?)";
        error(it->first, kp, msg);
      }
    }
    return true;
  }

  // Like mapping(), for an optional section: absent or null is fine and returns false.
  bool optional_mapping(const YAML::Node &n, const std::string &path,
                        const std::vector<std::string> &known) {
    if (!n.IsDefined() || n.IsNull()) return false;
    return mapping(n, path, known);
  }

  static std::string kind(const YAML::Node &n) {
    switch (n.Type()) {
      case YAML::NodeType::Map:
        return "a mapping";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Null:
        return "nothing";
      case YAML::NodeType::Scalar:
        return "'" + n.Scalar() + "'";
      default:
        return "an undefined value";
    }
  }

  bool str(const YAML::Node &n, const std::string &path, std::string &out, bool required = false) {
    if (!n.IsDefined() || n.IsNull()) {
      if (required) error(n, path, "is required");
      return !required;
    }
    if (!n.IsScalar()) {
      error(n, path, "expected a string, got " + kind(n));
      return false;
    }
    if (n.Tag() == "!") {  // quoted: fine
    }
    out = n.Scalar();
    if (required && trim(out).empty()) {
      error(n, path, "must not be empty");
      return false;
    }
    return true;
  }

  bool boolean(const YAML::Node &n, const std::string &path, bool &out) {
    if (!n.IsDefined() || n.IsNull()) return true;
    if (n.IsScalar()) {
      const std::string &s = n.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        out = true;
        return true;
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        out = false;
        return true;
      }
    }
    error(n, path, "expected true or false, got " + kind(n));
    return false;
  }

  bool number(const YAML::Node &n, const std::string &path, double &out, double min, double max) {
    if (!n.IsDefined() || n.IsNull()) return true;
    double v = 0;
    bool ok = n.IsScalar();
    if (ok) {
      const std::string &s = n.Scalar();
      char *end = nullptr;
      v = std::strtod(s.c_str(), &end);
      ok = !s.empty() && end && *end == '\0' && std::isfinite(v);
    }
    if (!ok) {
      error(n, path, "expected a number, got " + kind(n));
      return false;
    }
    if (v < min || v > max) {
      error(n, path, "must be between " + fmt(min) + " and " + fmt(max) + ", got " + n.Scalar());
      return false;
    }
    out = v;
    return true;
  }

  bool integer(const YAML::Node &n, const std::string &path, int &out, int min, int max) {
    if (!n.IsDefined() || n.IsNull()) return true;
    double v = 0;
    if (!number(n, path, v, min, max)) return false;
    if (v != std::floor(v)) {
      error(n, path, "expected a whole number, got " + n.Scalar());
      return false;
    }
    out = static_cast<int>(v);
    return true;
  }

  bool choice(const YAML::Node &n, const std::string &path, const std::vector<std::string> &allowed,
              std::string &out) {
    if (!n.IsDefined() || n.IsNull()) return true;
    std::string s;
    if (!str(n, path, s)) return false;
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::string msg = "unknown value '" + s + "' (expected one of: ";
      for (size_t i = 0; i < allowed.size(); ++i) msg += (i ? ", " : "") + allowed[i];
      msg += ")";
      std::string near = nearest(s, allowed);
      if (!near.empty()) msg += "; did you mean '" + near + "'?";
      error(n, path, msg);
      return false;
    }
    out = s;
    return true;
  }

  // A string or a list of strings.
  bool string_list(const YAML::Node &n, const std::string &path, std::vector<std::string> &out,
                   bool allow_scalar) {
    if (!n.IsDefined() || n.IsNull()) return true;
    if (n.IsScalar() && allow_scalar) {
      out = {n.Scalar()};
      return true;
    }
    if (!n.IsSequence()) {
      error(n, path,
            std::string("expected a list") + (allow_scalar ? " or a string" : "") + ", got " +
                kind(n));
      return false;
    }
    out.clear();
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string s;
      if (str(n[i], path + "[" + std::to_string(i) + "]", s, true))
        out.push_back(s);
      else
        ok = false;
    }
    return ok;
  }

  static std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

 private:
  std::string file_;
  std::vector<LoadError> &errors_;
  int count_ = 0;
  YAML::Mark last_map_mark_ = YAML::Mark::null_mark();
};

}  // namespace iptv
