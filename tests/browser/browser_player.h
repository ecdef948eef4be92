// Real players in Debian's chromium for the tests: hls.js and dash.js (npm, tests/browser/
// package-lock.json), driven by playwright-core through tests/browser/play.mjs. The test gets the
// player's own report (see play.mjs for the fields) and asserts on it.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iptv_test {

struct PlayOptions {
  std::string player = "hls";  // "hls" (hls.js) or "dash" (dash.js)
  double seconds = 12;         // play time after startup
  bool force_switch = false;   // switch renditions a third of the way in
  bool low_latency = false;    // hls.js lowLatencyMode, latency samples reported
  bool cmcd = false;           // the player sends CMCD keys (query form)
  double seek_back = 0;        // seek back this far once playing (DVR)
  std::vector<std::string> extra_args;
};

// Runs the player against `url`; returns its JSON report. On a driver failure the report has
// ok=false and the reason in errors[]. `log` (when given) receives the raw output.
nlohmann::json browser_play(const std::string &url, const PlayOptions &opts,
                            std::string *log = nullptr);

// Where the node modules live (tests/browser in the source tree), and whether they and chromium
// are present: scripts/setup installs both, so a test fails rather than skips without them.
std::string browser_dir();
std::string browser_missing();  // "" when ready, else what is missing

// Prints a play report's latency line ("<label>: latency median ... stalls N") and returns the
// median in seconds (99 when the report has none).
inline double print_latency(const std::string &label, const nlohmann::json &r) {
  double median = r.contains("latency") ? r["latency"].value("median", 99.0) : 99.0;
  std::printf(
      "%s: latency median %.2f s (min %.2f, max %.2f, %d samples), advanced %.1f s in %.1f s "
      "of wall clock, stalls %d\n",
      label.c_str(), median, r.contains("latency") ? r["latency"].value("min", 0.0) : 0.0,
      r.contains("latency") ? r["latency"].value("max", 0.0) : 0.0,
      r.contains("latency") ? r["latency"].value("samples", 0) : 0, r.value("advanced", 0.0),
      r.value("wall", 0.0), r.value("stalls", -1));
  return median;
}

}  // namespace iptv_test
