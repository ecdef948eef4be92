// The CODECS attribute: parsing it, the CODECS a segment's probe implies, and rule
// codecs-mismatch (split out of checker.cpp).
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "hlsparse/checker.h"
#include "hlsparse/checker_codecs.h"

namespace iptv::hlsparse {

namespace detail {

namespace {

int hex_byte(const std::string &s, size_t pos) {
  if (pos + 2 > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + 2; ++i) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v |= c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v |= c - 'A' + 10;
    } else {
      return -1;
    }
  }
  return v;
}

}  // namespace

std::vector<Codec> parse_codecs(const std::string &attr) {
  std::vector<Codec> out;
  size_t i = 0;
  while (i <= attr.size()) {
    size_t comma = attr.find(',', i);
    if (comma == std::string::npos) comma = attr.size();
    std::string t = attr.substr(i, comma - i);
    while (!t.empty() && t.front() == ' ') t.erase(t.begin());
    while (!t.empty() && t.back() == ' ') t.pop_back();
    i = comma + 1;
    if (t.empty()) continue;
    Codec c;
    c.text = t;
    std::string p = t.substr(0, t.find('.'));
    if (p == "avc1" || p == "avc3") {
      c.kind = "video";
      c.family = "h264";
      if (t.size() >= 11) {
        c.profile_idc = std::max(0, hex_byte(t, 5));
        c.level_idc = std::max(0, hex_byte(t, 9));
      }
    } else if (p == "hvc1" || p == "hev1") {
      c.kind = "video";
      c.family = "hevc";
    } else if (p == "av01") {
      c.kind = "video";
      c.family = "av1";
    } else if (p == "vp09") {
      c.kind = "video";
      c.family = "vp9";
    } else if (p == "mp4a") {
      c.kind = "audio";
      if (t == "mp4a.40.34" || t == "mp4a.69" || t == "mp4a.6B" || t == "mp4a.6b") {
        c.family = "mp3";
      } else {
        c.family = "aac";
        if (t.rfind("mp4a.40.", 0) == 0) c.aac_object = std::atoi(t.c_str() + 8);
      }
    } else if (p == "ac-3") {
      c.kind = "audio";
      c.family = "ac3";
    } else if (p == "ec-3") {
      c.kind = "audio";
      c.family = "eac3";
    } else if (p == "opus" || p == "Opus") {
      c.kind = "audio";
      c.family = "opus";
    } else if (p == "fLaC") {
      c.kind = "audio";
      c.family = "flac";
    } else {
      c.kind = "other";
      c.family = p;
    }
    out.push_back(c);
    if (comma == attr.size()) break;
  }
  return out;
}

int aac_object_of(const std::string &profile) {
  if (profile == "LC") return 2;
  if (profile == "HE-AAC") return 5;
  if (profile == "HE-AACv2") return 29;
  if (profile == "Main") return 1;
  if (profile == "LD") return 23;
  return 0;
}

}  // namespace detail

using detail::aac_object_of;
using detail::Codec;
using detail::parse_codecs;

std::string measured_codecs(const SegmentProbe &p) {
  std::string out;
  auto add = [&out](const std::string &c) { out += (out.empty() ? "" : ",") + c; };
  if (p.has_video) {
    if (p.video_codec == "h264" && p.video_profile_idc && p.video_level_idc) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "avc1.%02xxx%02x", p.video_profile_idc, p.video_level_idc);
      add(buf);
    } else {
      add(p.video_codec);
    }
  }
  if (p.has_audio) {
    if (p.audio_codec == "aac") {
      int o = aac_object_of(p.audio_profile);
      add(o ? "mp4a.40." + std::to_string(o) : "mp4a");
    } else {
      add(p.audio_codec);
    }
  }
  return out;
}

// Rule codecs-mismatch: CODECS must name what the segments contain (RFC 8216 4.3.4.2): the same
// kinds of media, the same codec families, and for H.264 the same profile_idc and level_idc
// (the constraint byte cannot be checked from ffprobe's output). Reported once per rendition.
void Checker::rule_codecs(const std::string &r, const std::string &seg_url, const SegmentProbe &p) {
  auto &st = state_[r];
  auto &sum = summaries_[r];
  if (st.codecs_reported || sum.info.declared_codecs.empty()) return;
  auto declared = parse_codecs(sum.info.declared_codecs);
  std::vector<std::string> problems;
  const Codec *dv = nullptr, *da = nullptr;
  for (const auto &c : declared) {
    if (c.kind == "video" && !dv) dv = &c;
    if (c.kind == "audio" && !da) da = &c;
  }
  if (p.has_video) {
    if (!dv) {
      problems.push_back("the segments carry " + p.video_codec + " video, CODECS names none");
    } else if (dv->family != p.video_codec) {
      problems.push_back("CODECS says " + dv->text + ", the video is " + p.video_codec);
    } else if (dv->family == "h264" && p.video_profile_idc && p.video_level_idc &&
               (dv->profile_idc != p.video_profile_idc || dv->level_idc != p.video_level_idc)) {
      problems.push_back(
          "CODECS says " + dv->text + " (profile_idc " + std::to_string(dv->profile_idc) +
          ", level_idc " + std::to_string(dv->level_idc) + "), the SPS has profile_idc " +
          std::to_string(p.video_profile_idc) + ", level_idc " + std::to_string(p.video_level_idc));
    }
  } else if (dv && !sum.info.audio_only) {
    problems.push_back("CODECS says " + dv->text + " but the segments carry no video");
  }
  if (p.has_audio) {
    if (!da && !sum.info.audio_only) {
      problems.push_back("the segments carry " + p.audio_codec + " audio, CODECS names none");
    } else if (da && da->family != p.audio_codec) {
      problems.push_back("CODECS says " + da->text + ", the audio is " + p.audio_codec);
    } else if (da && da->family == "aac" && da->aac_object && aac_object_of(p.audio_profile) &&
               da->aac_object != aac_object_of(p.audio_profile)) {
      problems.push_back("CODECS says " + da->text + ", the audio is AAC " + p.audio_profile);
    }
  }
  if (problems.empty()) return;
  st.codecs_reported = true;
  std::string msg;
  for (const auto &s : problems) msg += (msg.empty() ? "" : "; ") + s;
  add(Severity::kError, "codecs-mismatch", multivariant_url_.empty() ? seg_url : multivariant_url_,
      sum.info.line, r, msg + " (" + seg_url + ")");
}

}  // namespace iptv::hlsparse
