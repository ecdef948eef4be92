#include "hlsparse/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace iptv::hlsparse {

namespace {

int count(const std::vector<Finding> &fs, Severity s) {
  int n = 0;
  for (const auto &f : fs) n += f.severity == s;
  return n;
}

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

std::string seq_text(const std::optional<uint64_t> &v) {
  return v ? std::to_string(*v) : std::string("-");
}

void stream_text(std::string &out, const StreamReport &s, const char *label) {
  out += std::string(label) + s.url + "\n";
  out += "followed " + fmt("%.1f", s.duration_s) + " s";
  if (s.startup_ms) {
    out += ", startup " + fmt("%.0f", *s.startup_ms) + " ms (" + s.startup_detail + ")";
  } else if (!s.startup_detail.empty()) {
    out += ", " + s.startup_detail;
  }
  out += "\n\n";
  std::vector<std::vector<std::string>> rows = {{"rendition", "bandwidth", "codecs (declared)",
                                                 "codecs (measured)", "target", "sequence",
                                                 "reloads", "segments", "failed", "stale max"}};
  for (const auto &r : s.renditions) {
    rows.push_back(
        {r.info.name, r.info.bandwidth ? std::to_string(r.info.bandwidth) : "-",
         r.info.declared_codecs.empty() ? "-" : r.info.declared_codecs,
         r.measured_codecs.empty() ? "-" : r.measured_codecs,
         r.target_duration ? std::to_string(*r.target_duration) + " s" : "-",
         seq_text(r.first_sequence) + ".." + seq_text(r.last_sequence) + (r.ended ? " end" : ""),
         std::to_string(r.reloads), std::to_string(r.segments_fetched),
         std::to_string(r.segments_failed), fmt("%.1f s", r.max_stale_s)});
  }
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto &row : rows) {
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  for (const auto &row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) line += pad(row[i], w[i] + 2);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
}

void findings_text(std::string &out, const std::vector<Finding> &fs) {
  for (const auto &f : fs) {
    out += pad(severity_name(f.severity), 8) + f.rule;
    if (!f.rendition.empty()) out += " [" + f.rendition + "]";
    out += "\n        " + f.url;
    if (f.line) out += ":" + std::to_string(f.line);
    out += "\n        " + f.message;
    if (f.count > 1) out += " (seen " + std::to_string(f.count) + " times)";
    out += "\n";
  }
}

nlohmann::json finding_json(const Finding &f) {
  nlohmann::json j = {{"severity", severity_name(f.severity)},
                      {"rule", f.rule},
                      {"url", f.url},
                      {"message", f.message},
                      {"count", f.count}};
  j["line"] = f.line ? nlohmann::json(f.line) : nlohmann::json(nullptr);
  j["rendition"] = f.rendition.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.rendition);
  j["sequence"] = f.sequence >= 0 ? nlohmann::json(f.sequence) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json stream_json(const StreamReport &s) {
  nlohmann::json j;
  j["url"] = s.url;
  j["followed_s"] = s.duration_s;
  j["startup_ms"] = s.startup_ms ? nlohmann::json(*s.startup_ms) : nlohmann::json(nullptr);
  j["startup_detail"] = s.startup_detail;
  j["renditions"] = nlohmann::json::array();
  for (const auto &r : s.renditions) {
    nlohmann::json o = {{"name", r.info.name},
                        {"url", r.info.url},
                        {"bandwidth", r.info.bandwidth},
                        {"codecs_declared", r.info.declared_codecs},
                        {"codecs_measured", r.measured_codecs},
                        {"audio_only", r.info.audio_only},
                        {"reloads", r.reloads},
                        {"changes", r.changes},
                        {"segments_fetched", r.segments_fetched},
                        {"segments_failed", r.segments_failed},
                        {"segment_seconds", r.segment_seconds},
                        {"max_stale_s", r.max_stale_s},
                        {"discontinuity_sequence", r.discontinuity_sequence},
                        {"ended", r.ended}};
    o["target_duration"] =
        r.target_duration ? nlohmann::json(*r.target_duration) : nlohmann::json(nullptr);
    o["first_sequence"] =
        r.first_sequence ? nlohmann::json(*r.first_sequence) : nlohmann::json(nullptr);
    o["last_sequence"] =
        r.last_sequence ? nlohmann::json(*r.last_sequence) : nlohmann::json(nullptr);
    j["renditions"].push_back(o);
  }
  j["findings"] = nlohmann::json::array();
  for (const auto &f : s.findings) j["findings"].push_back(finding_json(f));
  return j;
}

}  // namespace

int Report::errors() const {
  int n = count(a.findings, Severity::kError);
  if (b) n += count(b->findings, Severity::kError);
  if (comparison) n += count(comparison->findings, Severity::kError);
  return n;
}

int Report::warnings() const {
  int n = count(a.findings, Severity::kWarning);
  if (b) n += count(b->findings, Severity::kWarning);
  if (comparison) n += count(comparison->findings, Severity::kWarning);
  return n;
}

StreamReport make_stream_report(const std::string &url, const Checker &checker) {
  StreamReport s;
  s.url = url;
  for (const auto &name : checker.order()) s.renditions.push_back(checker.renditions().at(name));
  s.findings = checker.findings();
  return s;
}

std::string to_text(const Report &r) {
  std::string out;
  if (!r.probed) {
    out += "could not probe " + r.a.url + ": " + r.fatal + "\n";
    if (!r.a.findings.empty()) {
      out += "\nfindings:\n";
      findings_text(out, r.a.findings);
    }
    return out;
  }
  stream_text(out, r.a, r.b ? "A: " : "");
  if (r.b) {
    out += "\n";
    stream_text(out, *r.b, "B: ");
  }
  if (r.comparison) {
    out += "\ncomparison (B against A):\n";
    for (const auto &c : r.comparison->renditions) {
      out += "  " + pad(c.name, 10) + "lag " + std::to_string(c.lag_segments) +
             " segment(s) at the end, worst " + std::to_string(c.max_lag_segments) +
             ", median arrival " + fmt("%+.1f s", c.lag_s) + (c.a_stale ? ", A stale" : "") +
             (c.b_stale ? ", B stale" : "") + "\n";
    }
  }
  std::vector<Finding> all = r.a.findings;
  if (r.b) all.insert(all.end(), r.b->findings.begin(), r.b->findings.end());
  if (r.comparison)
    all.insert(all.end(), r.comparison->findings.begin(), r.comparison->findings.end());
  out += "\n" + std::to_string(r.errors()) + " error(s), " + std::to_string(r.warnings()) +
         " warning(s)\n";
  findings_text(out, all);
  return out;
}

std::string to_json(const Report &r) {
  nlohmann::json j;
  j["probed"] = r.probed;
  if (!r.probed) j["fatal"] = r.fatal;
  j["exit_code"] = r.exit_code();
  j["errors"] = r.errors();
  j["warnings"] = r.warnings();
  j["stream"] = stream_json(r.a);
  if (r.b) j["compare_stream"] = stream_json(*r.b);
  if (r.comparison) {
    nlohmann::json c;
    c["renditions"] = nlohmann::json::array();
    for (const auto &cr : r.comparison->renditions) {
      c["renditions"].push_back({{"name", cr.name},
                                 {"lag_segments", cr.lag_segments},
                                 {"max_lag_segments", cr.max_lag_segments},
                                 {"median_arrival_lag_s", cr.lag_s},
                                 {"a_stale", cr.a_stale},
                                 {"b_stale", cr.b_stale}});
    }
    c["findings"] = nlohmann::json::array();
    for (const auto &f : r.comparison->findings) c["findings"].push_back(finding_json(f));
    j["comparison"] = c;
  }
  // Playlists are untrusted bytes: invalid UTF-8 in a URI or message is replaced, not thrown.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace iptv::hlsparse
