#include "control/xmltv.h"

#include "control/console.h"

#include <glib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "util/atomic_file.h"

namespace iptv::control {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// ISO 8601 with an optional offset; `default_tz` applies when there is none.
bool parse_iso(const std::string &s, const std::string &default_tz, int64_t *out) {
  GTimeZone *tz =
      default_tz.empty() ? g_time_zone_new_utc() : g_time_zone_new_identifier(default_tz.c_str());
  if (!tz) return false;
  GDateTime *dt = g_date_time_new_from_iso8601(s.c_str(), tz);
  g_time_zone_unref(tz);
  if (!dt) return false;
  *out = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return true;
}

struct ParseState {
  std::vector<Programme> *out;
  Programme cur;
  bool in_programme = false;
  std::string field;  // element whose text we collect
  std::string text;
  std::string error;
};

void on_start(GMarkupParseContext *, const gchar *name, const gchar **attr_names,
              const gchar **attr_values, gpointer data, GError **) {
  auto *st = static_cast<ParseState *>(data);
  std::string n = name;
  if (n == "programme") {
    st->cur = Programme{};
    st->in_programme = true;
    std::string start, stop;
    for (int i = 0; attr_names[i]; ++i) {
      std::string k = attr_names[i];
      if (k == "channel") st->cur.channel = attr_values[i];
      if (k == "start") start = attr_values[i];
      if (k == "stop") stop = attr_values[i];
    }
    if (!parse_xmltv_time(start, &st->cur.start)) st->cur.start = 0;
    if (stop.empty() || !parse_xmltv_time(stop, &st->cur.stop)) st->cur.stop = 0;
    return;
  }
  if (st->in_programme && (n == "title" || n == "sub-title" || n == "desc" || n == "category")) {
    st->field = n;
    st->text.clear();
    if (n == "title" && st->cur.title.empty())
      for (int i = 0; attr_names[i]; ++i)
        if (std::string(attr_names[i]) == "lang") st->cur.lang = attr_values[i];
  }
}

void on_end(GMarkupParseContext *, const gchar *name, gpointer data, GError **) {
  auto *st = static_cast<ParseState *>(data);
  std::string n = name;
  if (n == "programme" && st->in_programme) {
    st->in_programme = false;
    st->out->push_back(st->cur);
    return;
  }
  if (!st->field.empty() && n == st->field) {
    std::string t = st->text;
    // Keep the first of repeated elements (several languages): the first is the main one.
    if (n == "title" && st->cur.title.empty()) st->cur.title = t;
    if (n == "sub-title" && st->cur.sub_title.empty()) st->cur.sub_title = t;
    if (n == "desc" && st->cur.desc.empty()) st->cur.desc = t;
    if (n == "category" && st->cur.category.empty()) st->cur.category = t;
    st->field.clear();
  }
}

void on_text(GMarkupParseContext *, const gchar *text, gsize len, gpointer data, GError **) {
  auto *st = static_cast<ParseState *>(data);
  if (!st->field.empty()) st->text.append(text, len);
}

std::string trim_ws(std::string s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace

bool parse_xmltv_time(std::string_view s, int64_t *out) {
  std::string_view t = s;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  std::string_view dt = t, off;
  size_t sp = t.find(' ');
  if (sp != std::string_view::npos) {
    dt = t.substr(0, sp);
    off = t.substr(sp + 1);
    while (!off.empty() && off.front() == ' ') off.remove_prefix(1);
  } else if (t.size() > 14 && (t[14] == '+' || t[14] == '-')) {
    dt = t.substr(0, 14);
    off = t.substr(14);
  }
  if (!all_digits(dt) || (dt.size() != 14 && dt.size() != 12)) return false;
  int y = num(dt.substr(0, 4)), mo = num(dt.substr(4, 2)), d = num(dt.substr(6, 2)),
      h = num(dt.substr(8, 2)), mi = num(dt.substr(10, 2)),
      se = dt.size() == 14 ? num(dt.substr(12, 2)) : 0;
  int offset_s = 0;
  if (!off.empty() && off != "Z" && off != "UTC" && off != "GMT") {
    if (off.size() != 5 || (off[0] != '+' && off[0] != '-') || !all_digits(off.substr(1)))
      return false;
    int oh = num(off.substr(1, 2)), om = num(off.substr(3, 2));
    if (oh > 14 || om > 59) return false;
    offset_s = (oh * 3600 + om * 60) * (off[0] == '-' ? -1 : 1);
  }
  GDateTime *g = g_date_time_new_utc(y, mo, d, h, mi, se);
  if (!g) return false;
  *out = g_date_time_to_unix(g) - offset_s;
  g_date_time_unref(g);
  return true;
}

std::string format_xmltv_time(int64_t unix_s) {
  GDateTime *g = g_date_time_new_from_unix_utc(unix_s);
  gchar *s = g_date_time_format(g, "%Y%m%d%H%M%S +0000");
  std::string out = s;
  g_free(s);
  g_date_time_unref(g);
  return out;
}

bool parse_xmltv(std::string_view text, std::vector<Programme> &out, std::string *error) {
  ParseState st;
  st.out = &out;
  GMarkupParser parser = {on_start, on_end, on_text, nullptr, nullptr};
  // GMarkup does not take a <?xml?> declaration or DOCTYPE anywhere but as passthrough; both are
  // fine. It rejects undefined entities, which XMLTV files do not use beyond the XML five.
  GMarkupParseContext *ctx =
      g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &st, nullptr);
  GError *err = nullptr;
  bool ok =
      g_markup_parse_context_parse(ctx, text.data(), static_cast<gssize>(text.size()), &err) &&
      g_markup_parse_context_end_parse(ctx, &err);
  g_markup_parse_context_free(ctx);
  if (!ok) {
    if (error) *error = err ? err->message : "malformed XML";
    g_clear_error(&err);
    return false;
  }
  return true;
}

bool parse_schedule(std::string_view text, const std::string &channel, std::vector<Programme> &out,
                    std::string *error) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    std::string tz;
    if (root["timezone"]) tz = root["timezone"].as<std::string>();
    YAML::Node list = root["programmes"];
    if (!list || !list.IsSequence()) {
      if (error) *error = "a schedule needs a 'programmes' list";
      return false;
    }
    size_t i = 0;
    for (const auto &p : list) {
      std::string where = "programmes[" + std::to_string(i++) + "]";
      Programme pr;
      pr.channel = channel;
      if (!p["start"] || !parse_iso(p["start"].as<std::string>(), tz, &pr.start)) {
        if (error) *error = where + ": 'start' must be an ISO 8601 date-time";
        return false;
      }
      if (p["stop"]) {
        if (!parse_iso(p["stop"].as<std::string>(), tz, &pr.stop)) {
          if (error) *error = where + ": 'stop' must be an ISO 8601 date-time";
          return false;
        }
      } else if (p["duration_minutes"]) {
        pr.stop = pr.start + static_cast<int64_t>(p["duration_minutes"].as<double>() * 60);
      }
      if (!p["title"]) {
        if (error) *error = where + ": 'title' is required";
        return false;
      }
      pr.title = p["title"].as<std::string>();
      if (p["desc"]) pr.desc = p["desc"].as<std::string>();
      if (p["category"]) pr.category = p["category"].as<std::string>();
      if (p["sub_title"]) pr.sub_title = p["sub_title"].as<std::string>();
      out.push_back(std::move(pr));
    }
    return true;
  } catch (const YAML::Exception &e) {
    if (error) *error = e.what();
    return false;
  }
}

void normalise_programmes(std::vector<Programme> &p) {
  p.erase(std::remove_if(p.begin(), p.end(), [](const Programme &x) { return x.start <= 0; }),
          p.end());
  std::stable_sort(p.begin(), p.end(), [](const Programme &a, const Programme &b) {
    return a.channel != b.channel ? a.channel < b.channel : a.start < b.start;
  });
  for (size_t i = 0; i < p.size(); ++i) {
    bool has_next = i + 1 < p.size() && p[i + 1].channel == p[i].channel;
    if (has_next) {
      int64_t next = p[i + 1].start;
      if (p[i].stop == 0 || p[i].stop > next) p[i].stop = next;
    }
  }
  // No duration left (two at the same start, or the last one without a stop): dropped.
  p.erase(std::remove_if(p.begin(), p.end(), [](const Programme &x) { return x.stop <= x.start; }),
          p.end());
}

void drop_unknown_channels(std::vector<Programme> &programmes,
                           const std::vector<std::string> &known,
                           std::vector<std::string> &warnings, const std::string &source) {
  std::set<std::string> k(known.begin(), known.end()), dropped;
  programmes.erase(std::remove_if(programmes.begin(), programmes.end(),
                                  [&](const Programme &x) {
                                    if (k.count(x.channel)) return false;
                                    dropped.insert(x.channel);
                                    return true;
                                  }),
                   programmes.end());
  for (const auto &c : dropped)
    warnings.push_back(source + ": programmes of unknown channel '" + c + "' dropped");
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

std::string render_xmltv(const std::vector<EpgChannel> &channels,
                         const std::vector<Programme> &programmes) {
  std::string x =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n"
      "<tv generator-info-name=\"gst-iptv\">\n";
  for (const auto &c : channels) {
    x += "  <channel id=\"" + xml_escape(c.id) + "\">\n";
    x += "    <display-name>" + xml_escape(c.display_name) + "</display-name>\n";
    if (!c.icon.empty()) x += "    <icon src=\"" + xml_escape(c.icon) + "\"/>\n";
    x += "  </channel>\n";
  }
  for (const auto &p : programmes) {
    x += "  <programme start=\"" + format_xmltv_time(p.start) + "\" stop=\"" +
         format_xmltv_time(p.stop) + "\" channel=\"" + xml_escape(p.channel) + "\">\n";
    std::string lang = p.lang.empty() ? "" : " lang=\"" + xml_escape(p.lang) + "\"";
    x += "    <title" + lang + ">" + xml_escape(p.title) + "</title>\n";
    if (!p.sub_title.empty()) x += "    <sub-title>" + xml_escape(p.sub_title) + "</sub-title>\n";
    if (!p.desc.empty()) x += "    <desc>" + xml_escape(p.desc) + "</desc>\n";
    if (!p.category.empty()) x += "    <category>" + xml_escape(p.category) + "</category>\n";
    x += "  </programme>\n";
  }
  x += "</tv>\n";
  return x;
}

EpgBuild build_epg(const std::vector<ChannelRecord> &records, const std::string &base_url) {
  namespace fs = std::filesystem;
  EpgBuild b;
  std::vector<std::string> known;
  std::map<std::string, std::vector<Programme>> xmltv_files;  // path -> parsed programmes
  for (const auto &r : records) {
    if (r.status != ChannelStatus::kActive) continue;
    std::string tvg = r.epg.tvg_id.empty() ? r.channel_id : r.epg.tvg_id;
    known.push_back(tvg);
    // A logo file beside the record is served by iptvd (/iptv/logos/<id>), a URL is kept.
    b.channels.push_back({tvg, r.name.empty() ? r.channel_id : r.name, logo_url(r, base_url)});
  }
  for (const auto &r : records) {
    if (r.status != ChannelStatus::kActive || r.epg.schedule.empty()) continue;
    std::string tvg = r.epg.tvg_id.empty() ? r.channel_id : r.epg.tvg_id;
    fs::path p = r.epg.schedule;
    if (p.is_relative() && !r.file.empty()) p = fs::path(r.file).parent_path() / p;
    std::string path = p.lexically_normal().string();
    if (xmltv_files.count(path)) continue;  // an upstream XMLTV file already merged
    std::string text, err;
    if (!read_file(path, text, &err)) {
      b.warnings.push_back(r.channel_id + ": epg.schedule: " + err);
      continue;
    }
    std::string head = trim_ws(text.substr(0, 64));
    if (head.rfind("\xEF\xBB\xBF", 0) == 0) head = head.substr(3);
    std::vector<Programme> progs;
    if (!head.empty() && head[0] == '<') {
      if (!parse_xmltv(text, progs, &err)) {
        b.warnings.push_back(path + ": not valid XMLTV: " + err);
        xmltv_files[path] = {};
        continue;
      }
      drop_unknown_channels(progs, known, b.warnings, path);
      xmltv_files[path] = progs;
    } else if (!parse_schedule(text, tvg, progs, &err)) {
      b.warnings.push_back(path + ": " + err);
      continue;
    }
    b.programmes.insert(b.programmes.end(), progs.begin(), progs.end());
  }
  normalise_programmes(b.programmes);
  return b;
}

}  // namespace iptv::control
