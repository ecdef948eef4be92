#include "viewers/device_class.h"

#include <algorithm>
#include <cctype>

namespace iptv::viewers {

namespace {

bool has(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower((unsigned char)a) == std::tolower((unsigned char)b);
  });
  return it != hay.end();
}

}  // namespace

const char *to_string(DeviceClass c) {
  switch (c) {
    case DeviceClass::kApple:
      return "apple";
    case DeviceClass::kHlsJs:
      return "hls.js";
    case DeviceClass::kDashJs:
      return "dash.js";
    case DeviceClass::kExoPlayer:
      return "exoplayer";
    case DeviceClass::kVlc:
      return "vlc";
    case DeviceClass::kKodi:
      return "kodi";
    case DeviceClass::kFfmpegGst:
      return "ffmpeg-gstreamer";
    case DeviceClass::kOther:
      return "other";
  }
  return "other";
}

const std::vector<DeviceClass> &all_device_classes() {
  static const std::vector<DeviceClass> v = {
      DeviceClass::kApple, DeviceClass::kHlsJs, DeviceClass::kDashJs,    DeviceClass::kExoPlayer,
      DeviceClass::kVlc,   DeviceClass::kKodi,  DeviceClass::kFfmpegGst, DeviceClass::kOther};
  return v;
}

DeviceClass classify_user_agent(std::string_view ua, bool dash) {
  if (ua.empty()) return DeviceClass::kOther;
  // Players with their own HTTP stack name themselves; check them before browsers (Kodi and
  // ExoPlayer apps may carry "Mozilla" or "Android" too).
  if (has(ua, "ExoPlayer") || has(ua, "AndroidXMedia3")) return DeviceClass::kExoPlayer;
  if (has(ua, "Kodi/") || has(ua, "XBMC")) return DeviceClass::kKodi;
  if (has(ua, "VLC/") || has(ua, "LibVLC")) return DeviceClass::kVlc;
  if (has(ua, "Lavf/") || has(ua, "FFmpeg") || has(ua, "GStreamer") || has(ua, "souphttpsrc"))
    return DeviceClass::kFfmpegGst;
  if (has(ua, "AppleCoreMedia") || has(ua, "AVFoundation") || has(ua, "CFNetwork"))
    return DeviceClass::kApple;
  if (has(ua, "Mozilla/")) {
    // Safari (not Chrome, Chromium, Edge or Firefox on iOS, which say so) plays HLS natively.
    bool safari = has(ua, "Safari/") && !has(ua, "Chrome/") && !has(ua, "Chromium/") &&
                  !has(ua, "CriOS/") && !has(ua, "FxiOS/") && !has(ua, "Edg/") &&
                  !has(ua, "Android");
    if (safari && !dash) return DeviceClass::kApple;
    return dash ? DeviceClass::kDashJs : DeviceClass::kHlsJs;
  }
  return DeviceClass::kOther;
}

}  // namespace iptv::viewers
