#include "cmaf/mpd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace iptv::cmaf {
namespace {

std::string utc(int64_t ms) {
  time_t s = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string xml_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}

void timeline(std::ostringstream &o, const MpdRepresentation &in, uint64_t presentation_offset) {
  // $Number$ counts the S entries from startNumber, so numbers must run without a gap: list
  // only the segments after the last gap in numbers (a gap in time alone is an S with @t).
  MpdRepresentation r = in;
  for (size_t i = r.segments.size(); i-- > 1;)
    if (r.segments[i].number != r.segments[i - 1].number + 1) {
      r.segments.erase(r.segments.begin(), r.segments.begin() + i);
      break;
    }
  o << "        <SegmentTemplate timescale=\"" << r.timescale << "\" initialization=\""
    << xml_escape(r.id + "/" + r.init) << "\" media=\"" << xml_escape(r.id)
    << "/seg-$Number$.m4s\" startNumber=\"" << (r.segments.empty() ? 0 : r.segments[0].number)
    << "\" presentationTimeOffset=\"" << presentation_offset << "\">\n";
  o << "          <SegmentTimeline>\n";
  uint64_t next_time = 0, next_number = 0;
  for (size_t i = 0; i < r.segments.size();) {
    const MpdSegment &s = r.segments[i];
    // A run of equal durations, contiguous in time and number, is one S with @r.
    size_t j = i + 1;
    while (j < r.segments.size() && r.segments[j].duration == s.duration &&
           r.segments[j].time == r.segments[j - 1].time + r.segments[j - 1].duration &&
           r.segments[j].number == r.segments[j - 1].number + 1)
      j++;
    o << "            <S";
    // @t at the start and after a gap in time (a discontinuity within a run).
    if (i == 0 || s.time != next_time || s.number != next_number) o << " t=\"" << s.time << "\"";
    o << " d=\"" << s.duration << "\"";
    if (j - i > 1) o << " r=\"" << (j - i - 1) << "\"";
    o << "/>\n";
    const MpdSegment &last = r.segments[j - 1];
    next_time = last.time + last.duration;
    next_number = last.number + 1;
    i = j;
  }
  o << "          </SegmentTimeline>\n        </SegmentTemplate>\n";
}

}  // namespace

std::string iso_duration(double seconds) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "PT%.3fS", std::max(0.0, seconds));
  return buf;
}

std::string render_mpd(const MpdConfig &cfg, const std::vector<MpdRepresentation> &reps) {
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
       "profiles=\"urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\" "
       "type=\""
    << (cfg.dynamic ? "dynamic" : "static") << "\"";
  // The Period starts at media time 0 (the Unix epoch) when dynamic; a static MPD starts at its
  // first segment.
  double first_s = 0, last_s = 0;
  if (!reps.empty() && !reps[0].segments.empty()) {
    const auto &r = reps[0];
    first_s = (double)r.segments.front().time / r.timescale;
    last_s = (double)(r.segments.back().time + r.segments.back().duration) / r.timescale;
  }
  if (cfg.dynamic) {
    o << " availabilityStartTime=\"" << utc((int64_t)std::llround(cfg.period_start * 1000))
      << "\" publishTime=\"" << utc(cfg.publish_ms) << "\" minimumUpdatePeriod=\""
      << iso_duration(cfg.target_seconds) << "\" timeShiftBufferDepth=\""
      << iso_duration(cfg.window_seconds) << "\" suggestedPresentationDelay=\""
      << iso_duration(cfg.presentation_delay) << "\"";
  } else {
    o << " mediaPresentationDuration=\"" << iso_duration(last_s - first_s) << "\"";
  }
  o << " maxSegmentDuration=\"" << iso_duration(cfg.target_seconds * 1.5) << "\" minBufferTime=\""
    << iso_duration(cfg.target_seconds) << "\">\n";
  if (cfg.dynamic) {
    char id[32];
    std::snprintf(id, sizeof id, "%.0f", cfg.period_start);
    o << "  <Period id=\"" << id << "\" start=\"PT0S\">\n";
  } else {
    o << "  <Period id=\"0\" start=\"PT0S\">\n";
  }
  for (bool video : {true, false}) {
    bool any = false;
    for (const auto &r : reps) any |= r.video == video;
    if (!any) continue;
    o << "    <AdaptationSet contentType=\"" << (video ? "video" : "audio") << "\" mimeType=\""
      << (video ? "video/mp4" : "audio/mp4") << "\" segmentAlignment=\"true\" startWithSAP=\"1\"";
    for (const auto &r : reps)
      if (r.video == video && !video && !r.language.empty()) {
        o << " lang=\"" << xml_escape(r.language) << "\"";
        break;
      }
    o << ">\n";
    for (const auto &r : reps) {
      if (r.video != video) continue;
      o << "      <Representation id=\"" << xml_escape(r.id) << "\" codecs=\""
        << xml_escape(r.codecs) << "\" bandwidth=\"" << r.bandwidth << "\"";
      if (video) {
        o << " width=\"" << r.width << "\" height=\"" << r.height << "\"";
        if (r.frame_rate > 0) {
          char fr[32];
          std::snprintf(fr, sizeof fr, "%g", r.frame_rate);
          o << " frameRate=\"" << fr << "\"";
        }
      } else {
        o << " audioSamplingRate=\"" << r.sample_rate << "\"";
      }
      o << ">\n";
      if (!video)
        o << "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_"
             "configuration:2011\" value=\""
          << r.channels << "\"/>\n";
      uint64_t pto =
          (uint64_t)std::llround((cfg.dynamic ? cfg.period_start : first_s) * r.timescale);
      if (cfg.dynamic) {
        MpdRepresentation in_period = r;
        std::erase_if(in_period.segments, [&](const MpdSegment &s) { return s.time < pto; });
        timeline(o, in_period, pto);
      } else {
        timeline(o, r, pto);
      }
      o << "      </Representation>\n";
    }
    o << "    </AdaptationSet>\n";
  }
  o << "  </Period>\n";
  if (!cfg.utc_timing_url.empty())
    o << "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\""
      << xml_escape(cfg.utc_timing_url) << "\"/>\n";
  o << "</MPD>\n";
  return o.str();
}

}  // namespace iptv::cmaf
