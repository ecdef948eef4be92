// Viewer device classes: a small fixed set read from a request's User-Agent, so they can be
// metric labels (bounded cardinality whatever clients send). GStreamer-free, unit-tested.
//
// Browsers play HLS through hls.js and DASH through dash.js (Media Source Extensions) with the
// browser's own User-Agent, so a browser that is not Safari is "hls.js" when it fetches HLS and
// "dash.js" when it fetches DASH; Safari and Apple's AVFoundation (AppleCoreMedia) play HLS
// natively ("apple").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace iptv::viewers {

enum class DeviceClass { kApple, kHlsJs, kDashJs, kExoPlayer, kVlc, kKodi, kFfmpegGst, kOther };

// The label value: apple, hls.js, dash.js, exoplayer, vlc, kodi, ffmpeg-gstreamer, other.
const char *to_string(DeviceClass c);
const std::vector<DeviceClass> &all_device_classes();

// `dash`: the request is for a DASH object (.mpd, a DASH segment, or CMCD sf=d).
DeviceClass classify_user_agent(std::string_view user_agent, bool dash);

}  // namespace iptv::viewers
