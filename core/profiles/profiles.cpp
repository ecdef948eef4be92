#include "profiles/profiles.h"

#include <charconv>

#include "util/strutil.h"

namespace iptv {
namespace {

bool parse_int(std::string_view s, int &out) {
  if (s.empty() || s.size() > 6) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out > 0;
}

}  // namespace

ProfileCatalog::ProfileCatalog() {
  entries_ = {
      {"2160p-16mbps", 3840, 2160, 16000, 0, false},  {"1080p-6mbps", 1920, 1080, 6000, 0, false},
      {"1080p-4500kbps", 1920, 1080, 4500, 0, false}, {"720p-3mbps", 1280, 720, 3000, 0, false},
      {"720p-2mbps", 1280, 720, 2000, 0, false},      {"540p-1800kbps", 960, 540, 1800, 0, false},
      {"480p-1mbps", 854, 480, 1000, 0, false},       {"360p-600kbps", 640, 360, 600, 0, false},
      {"240p-400kbps", 426, 240, 400, 0, false},      {"180p-250kbps", 320, 180, 250, 0, false},
  };
}

void ProfileCatalog::set(const Profile &p) {
  for (auto &e : entries_) {
    if (e.name == p.name) {
      e = p;
      return;
    }
  }
  entries_.push_back(p);
}

std::vector<std::string> ProfileCatalog::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size() + 1);
  for (const auto &e : entries_) out.push_back(e.name);
  out.push_back("passthrough");
  return out;
}

std::optional<Profile> parse_explicit_profile(std::string_view s) {
  size_t x = s.find('x');
  size_t at = s.find('@');
  if (x == std::string_view::npos || at == std::string_view::npos || x > at) return std::nullopt;
  size_t at2 = s.find('@', at + 1);
  Profile p;
  p.name = std::string(s);
  if (!parse_int(s.substr(0, x), p.width) || !parse_int(s.substr(x + 1, at - x - 1), p.height))
    return std::nullopt;
  std::string_view kbps = s.substr(at + 1, at2 == std::string_view::npos ? s.npos : at2 - at - 1);
  if (!parse_int(kbps, p.kbps)) return std::nullopt;
  if (at2 != std::string_view::npos && !parse_int(s.substr(at2 + 1), p.max_fps))
    return std::nullopt;
  return p;
}

std::optional<Profile> ProfileCatalog::resolve(std::string_view name, std::string *error) const {
  if (name == "passthrough") {
    Profile p;
    p.name = "passthrough";
    p.passthrough = true;
    return p;
  }
  for (const auto &e : entries_) {
    if (e.name == name) return e;
  }
  if (name.find('x') != std::string_view::npos && name.find('@') != std::string_view::npos) {
    auto p = parse_explicit_profile(name);
    if (p) {
      if (p->width % 2 || p->height % 2 || p->width < 16 || p->height < 16 || p->width > 8192 ||
          p->height > 8192) {
        if (error)
          *error = "profile '" + std::string(name) +
                   "': width and height must be even and between 16 and 8192";
        return std::nullopt;
      }
      if (p->max_fps > 240) {
        if (error) *error = "profile '" + std::string(name) + "': frame rate cap above 240";
        return std::nullopt;
      }
      return p;
    }
    if (error)
      *error = "malformed profile '" + std::string(name) +
               "' (expected WIDTHxHEIGHT@KBPS or WIDTHxHEIGHT@KBPS@FPS, e.g. 1280x720@3000)";
    return std::nullopt;
  }
  if (error) {
    *error = "unknown profile '" + std::string(name) + "'";
    std::string near = nearest(name, names());
    if (!near.empty()) *error += " (did you mean '" + near + "'?)";
  }
  return std::nullopt;
}

}  // namespace iptv
