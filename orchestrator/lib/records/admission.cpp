// The admission rule (records/loader.h): what keeps iptvd from running a well-formed record.
// One function, called by `iptvctl validate` and by the daemon's channel manager, so the two
// never disagree (issue 21 item 2; tests/iptvd/test_admission.cpp compares them).
#include <algorithm>
#include <ctime>
#include <filesystem>

#include "records/loader.h"
#include "util/strutil.h"

namespace iptv {

namespace fs = std::filesystem;

const std::vector<std::string> &test_patterns() {
  // videotestsrc's "pattern" nicks (GStreamer 1.22); tests/iptvd/test_admission.cpp checks this
  // list against the installed element.
  static const std::vector<std::string> kPatterns = {"smpte",
                                                     "snow",
                                                     "black",
                                                     "white",
                                                     "red",
                                                     "green",
                                                     "blue",
                                                     "checkers-1",
                                                     "checkers-2",
                                                     "checkers-4",
                                                     "checkers-8",
                                                     "circular",
                                                     "blink",
                                                     "smpte75",
                                                     "zone-plate",
                                                     "gamut",
                                                     "chroma-zone-plate",
                                                     "solid-color",
                                                     "ball",
                                                     "smpte100",
                                                     "bar",
                                                     "pinwheel",
                                                     "spokes",
                                                     "gradient",
                                                     "colors",
                                                     "smpte-rp-219"};
  return kPatterns;
}

bool is_test_pattern(const std::string &pattern) {
  const auto &p = test_patterns();
  return std::find(p.begin(), p.end(), pattern) != p.end();
}

std::string test_source_pattern(const std::string &uri) {
  auto s = uri.find("://");
  if (s == std::string::npos) return {};
  std::string path = uri.substr(s + 3);
  path = path.substr(0, path.find('?'));
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  return path;
}

std::vector<LoadError> admission_problems(const ChannelRecord &r) {
  std::vector<LoadError> out;
  auto add = [&](const std::string &path, int line, const std::string &msg) {
    LoadError e;
    e.file = r.file;
    e.line = line > 0 ? line : r.line;
    e.column = 1;
    e.path = path;
    e.message = msg;
    e.channel_id = r.channel_id;
    out.push_back(e);
  };
  if (r.source.kind == SourceKind::kNone)
    add("source", r.line, "no source: the channel loads but cannot start until source.uri is set");
  else if (!r.runnable_rights())
    add("rights", r.line,
        "no rights metadata (rights.owner, rights.licence): iptvd will not run a " + r.source_type +
            " source without them");
  if (r.rights.expires_unix > 0 && r.rights.expires_unix < static_cast<int64_t>(std::time(nullptr)))
    add("rights.expires", r.line,
        "rights expired on " + r.rights.expires + ": iptvd will not run it");
  if (r.source.kind == SourceKind::kTest) {
    // The worker draws test:// with videotestsrc and refuses a pattern it does not know
    // ("unknown test pattern"); refused here, so iptvd never starts a worker that cannot run and
    // `validate` says so (issue 21 item 2: one admission rule).
    std::string pattern = test_source_pattern(r.source.uri);
    if (!pattern.empty() && !is_test_pattern(pattern)) {
      std::string near = nearest(pattern, test_patterns());
      add("source", r.source.line,
          "unknown test pattern '" + pattern + "'" +
              (near.empty() ? "" : " (did you mean '" + near + "'?)") +
              ": the worker cannot draw it");
    }
  }
  if (r.source.kind == SourceKind::kFile && r.source.uri.rfind("file://", 0) == 0) {
    std::string path = r.source.uri.substr(7);
    auto q = path.find('?');
    if (q != std::string::npos) path.resize(q);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      add("source", r.source.line,
          "file source " + path +
              (fs::exists(path, ec) ? " is not a regular file" : " does not exist") +
              ": iptvd cannot start the channel");
  }
  return out;
}

std::vector<std::string> record_warnings(const ChannelRecord &r) {
  std::vector<std::string> out;
  for (const auto &e : admission_problems(r)) out.push_back(e.message);
  return out;
}

}  // namespace iptv
