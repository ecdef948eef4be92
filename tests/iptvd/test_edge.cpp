// Debian's nginx as a caching edge in front of a real iptvd, loading docs/deploy/nginx-edge.conf
// as shipped (only ports and paths filled in): API sessions and subject M3U playlists play through
// it, a revoked session stops within the documented bound, bad tokens are refused at the edge,
// and the edge fetches each segment from the origin once for several viewers (issue 25).
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "iptvd_fixture.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

const char *kKeyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::vector<std::string> uris(const std::string &playlist) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a < playlist.size()) {
    size_t b = playlist.find('\n', a);
    if (b == std::string::npos) b = playlist.size();
    std::string line = playlist.substr(a, b - a);
    a = b + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// An EdgeAuth token in its URL path form, signed here with the daemon's key (as a third party
// holding the key would): st/exp as given, ACL the channel.
std::string edgeauth_segment(const std::string &channel, int64_t st, int64_t exp) {
  std::string key;
  for (size_t i = 0; i + 1 < strlen(kKeyHex); i += 2)
    key.push_back((char)std::stoi(std::string(kKeyHex + i, 2), nullptr, 16));
  std::string body = "st=" + std::to_string(st) + "~exp=" + std::to_string(exp) + "~acl=/hls/" +
                     channel + "/*~kid=k1";
  gchar *mac = g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)key.data(), key.size(),
                                         body.c_str(), -1);
  std::string seg = "st=" + std::to_string(st) + "~exp=" + std::to_string(exp) + "~ch=" + channel +
                    "~kid=k1~hmac=" + mac;
  g_free(mac);
  return seg;
}

// Origin fetches per object (the path without the token segment), from the edge's access log: a
// line whose upstream is not "-" went to the origin.
std::map<std::string, int> origin_fetches(const NginxEdge &edge) {
  std::map<std::string, int> n;
  std::regex line_re(
      R"re("GET /hls/([^/]+)/[^/]+/(\S+) HTTP[^"]*" \d+ \d+ cache=\S* upstream=(\S+))re");
  std::string log = edge.access_log();
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line_re);
       it != std::sregex_iterator(); ++it)
    if ((*it)[3] != "-") n[(*it)[1].str() + "/" + (*it)[2].str()]++;
  return n;
}

Http curl_delete(Iptvd &d, const std::string &path, const std::string &key) {
  iptv_test::TempDir t;
  Http h;
  std::string code = sh("curl -s -m 10 -o " + t.path() + "/b -w '%{http_code}' -X DELETE -H " +
                        "'Authorization: Bearer " + key + "' '" + d.base() + path + "'");
  h.status = std::atoi(code.c_str());
  h.body = slurp(t.path() + "/b");
  return h;
}

bool ffprobe_plays(const std::string &url, std::string *out) {
  int st = -1;
  *out = sh(
      "timeout 30 ffprobe -v error -show_entries stream=codec_type -of csv=p=0 '" + url + "' 2>&1",
      &st);
  return st == 0 && out->find("video") != std::string::npos;
}

}  // namespace

TEST(IptvdEdge, SessionsPlaylistsAndRevocationWorkThroughTheShippedNginxEdge) {
  if (sh("command -v nginx").empty()) GTEST_SKIP() << "nginx is not installed";
  ASSERT_NE(sh("nginx -V 2>&1").find("with-http_auth_request_module"), std::string::npos)
      << "Debian's nginx(-light) is built with auth_request";
  iptv_test::TempDir tmp;
  std::string channels = tmp.path() + "/channels";
  fs::create_directories(channels);
  write_file(channels + "/news.yaml", channel_yaml("news", "epg:\n  group: News\n"));
  int edge_port = iptv_test::free_port();
  std::string edge_base = "http://127.0.0.1:" + std::to_string(edge_port);
  write_file(tmp.path() + "/keys", std::string("k1 ") + kKeyHex + "\n");
  std::string cfg = tmp.path() + "/iptvd.yaml";
  write_file(cfg, "public_base_url: " + edge_base + "\ntokens:\n  mode: edgeauth\n  keys_file: " +
                      tmp.path() + "/keys\n  ttl_seconds: 600\n");
  Iptvd d(channels, {"--config", cfg});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"news"}, 60, 3)) << d.log();
  std::string key = d.admin_key();
  fs::create_directories(tmp.path() + "/nginx");
  NginxEdge edge(tmp.path() + "/nginx", port_of(d), {}, edge_port);
  ASSERT_TRUE(edge.wait_up()) << edge.logs();

  // Three viewers, each their own subject (one session each).
  const std::vector<std::string> subjects = {"alice", "bob", "carol"};
  for (const auto &sub : subjects) {
    Http e = d.post("/api/v1/entitlements",
                    R"({"subject":")" + sub +
                        R"(","channels":["news"],"groups":[],"tier":"basic","region":""})",
                    key);
    ASSERT_LT(e.status, 300) << e.body;
  }

  // 1. Sessions opened through the API play through the edge, and the origin is asked once
  //    per segment however many viewers there are.
  std::vector<nlohmann::json> sessions;
  for (const auto &sub : subjects) {
    Http r = d.post("/api/v1/sessions", R"({"channel_id":"news","subject":")" + sub + R"("})", key);
    ASSERT_EQ(r.status, 201) << r.body;
    sessions.push_back(nlohmann::json::parse(r.body));
    std::string url = sessions.back()["playback_url"];
    ASSERT_EQ(url.rfind(edge_base + "/hls/news/", 0), 0u) << url;
  }
  double step1 = now_s();
  std::string out;
  EXPECT_TRUE(ffprobe_plays(sessions[0]["playback_url"], &out)) << out << edge.logs();
  std::set<std::string> segments;
  int hits = 0;
  for (const auto &s : sessions) {
    std::string url = s["playback_url"];
    std::string base = url.substr(0, url.rfind('/') + 1);
    Reply master = fetch(url);
    ASSERT_EQ(master.status, 200) << edge.logs();
    auto media = uris(master.body);
    ASSERT_FALSE(media.empty()) << master.body;
    std::string media_url = base + media[0];
    Reply pl = fetch(media_url);
    ASSERT_EQ(pl.status, 200) << media_url;
    // Playlists carry no token: each viewer resolves relative URIs against their own URL.
    EXPECT_EQ(pl.body.find("hmac="), std::string::npos) << pl.body;
    std::string media_base = media_url.substr(0, media_url.rfind('/') + 1);
    for (const auto &seg : uris(pl.body)) {
      Reply r = fetch(media_base + seg);
      EXPECT_EQ(r.status, 200) << seg;
      if (r.headers["x-cache-status"] == "HIT") ++hits;
      segments.insert(media[0].substr(0, media[0].rfind('/') + 1) + seg);
    }
  }
  ASSERT_GE(segments.size(), 3u);
  EXPECT_GT(hits, 0);
  auto fetched = origin_fetches(edge);
  for (const auto &seg : segments)
    EXPECT_EQ(fetched["news/" + seg], 1)
        << seg << " was fetched from the origin " << fetched["news/" + seg] << " times";

  // The edge caches authorization answers: at most one origin auth request per token per 5 s
  // (the requests above were one per object per viewer).
  double step1_s = now_s() - step1;
  auto edge_auth_ok = [&] {
    std::regex re(R"re(iptv_origin_edge_auth_total\{outcome="ok"\} (\d+))re");
    std::smatch m;
    std::string metrics = d.get("/metrics", key).body;
    return std::regex_search(metrics, m, re) ? std::stoi(m[1]) : -1;
  };
  int auth_ok = edge_auth_ok();
  EXPECT_GE(auth_ok, 3);
  EXPECT_LE(auth_ok, 3 * (int)(step1_s / 5 + 2))
      << "over " << step1_s << " s; " << hits + (int)segments.size() << " media requests";

  // 2. The subject's M3U, through the edge, lists edge URLs that play.
  Http t = d.post("/api/v1/subjects/alice/playlist-token", R"({"ttl_seconds":600})", key);
  ASSERT_EQ(t.status, 201) << t.body;
  std::string m3u_url = nlohmann::json::parse(t.body)["playlist_url"];
  ASSERT_EQ(m3u_url.rfind(edge_base + "/iptv/playlist.m3u?token=", 0), 0u) << m3u_url;
  Reply m3u = fetch(m3u_url);
  ASSERT_EQ(m3u.status, 200) << m3u.body << edge.logs();
  auto entries = uris(m3u.body);
  ASSERT_EQ(entries.size(), 1u) << m3u.body;
  ASSERT_EQ(entries[0].rfind(edge_base + "/hls/news/", 0), 0u) << entries[0];
  EXPECT_TRUE(ffprobe_plays(entries[0], &out)) << out;
  EXPECT_EQ(fetch(edge_base + "/iptv/playlist.m3u?token=forged").status, 403);

  // 3. Forged, expired and tokenless requests are refused at the edge.
  std::string good = sessions[1]["playback_url"];
  std::string forged = good;
  size_t h = forged.find("~hmac=") + 6;
  forged[h] = forged[h] == 'a' ? 'b' : 'a';
  Reply f = fetch(forged);
  EXPECT_EQ(f.status, 403);
  EXPECT_EQ(f.headers["x-iptv-deny"], "forged");
  EXPECT_EQ(f.body.find("#EXTM3U"), std::string::npos);
  int64_t now = (int64_t)(g_get_real_time() / 1000000);
  Reply x = fetch(edge_base + "/hls/news/" + edgeauth_segment("news", now - 600, now - 5) +
                  "/index.m3u8");
  EXPECT_EQ(x.status, 410);
  EXPECT_EQ(x.headers["x-iptv-deny"], "expired");
  // A valid token for one channel does not open another one's cached objects.
  Reply scope = fetch(edge_base + "/hls/other/" + good.substr(good.find("/hls/news/") + 10));
  EXPECT_EQ(scope.status, 403);
  EXPECT_EQ(fetch(edge_base + "/hls/news/index.m3u8").status, 403);
  // A valid, self-signed token (a key holder's) plays, so the checks above are about the token.
  EXPECT_EQ(
      fetch(edge_base + "/hls/news/" + edgeauth_segment("news", now - 5, now + 60) + "/index.m3u8")
          .status,
      200);

  // 4. A revoked session stops playing through the edge within the documented bound (5 s,
  //    tokens.edge_auth_cache_seconds), while other sessions play on.
  std::string revoked_url = sessions[2]["playback_url"];
  ASSERT_EQ(fetch(revoked_url).status, 200);  // its authorization is now cached at the edge
  Http del =
      curl_delete(d, "/api/v1/sessions/" + sessions[2]["session_id"].get<std::string>(), key);
  ASSERT_EQ(del.status, 200) << del.body;
  double t0 = now_s();
  bool stopped = wait_for(15, [&] { return fetch(revoked_url).status == 403; });
  double took = now_s() - t0;
  ASSERT_TRUE(stopped) << "a revoked session still plays through the edge";
  EXPECT_LE(took, 5.0 + 1.5) << "revocation took " << took << " s at the edge";
  Reply rv = fetch(revoked_url);
  EXPECT_EQ(rv.headers["x-iptv-deny"], "revoked");
  EXPECT_FALSE(ffprobe_plays(revoked_url, &out)) << out;
  EXPECT_EQ(fetch(sessions[1]["playback_url"]).status, 200);
  std::printf(
      "edge: revocation took effect after %.2f s; %zu segments, %d cache hits; %d origin auth "
      "answers for 3 viewers over %.1f s\n",
      took, segments.size(), hits, auth_ok, step1_s);
  // 5. Revoking a subject stops its M3U at once (never cached at the edge) and every session
  //    it holds, those inside the M3U too, within the same bound; other subjects play on.
  Http all = curl_delete(d, "/api/v1/subjects/alice/sessions", key);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(fetch(m3u_url).status, 403);
  EXPECT_TRUE(wait_for(5.0 + 1.5, [&] {
    return fetch(entries[0]).status == 403 && fetch(sessions[0]["playback_url"]).status == 403;
  })) << "the subject's sessions still play through the edge";
  EXPECT_EQ(fetch(sessions[1]["playback_url"]).status, 200);
  // Nothing secret reached the daemon's log.
  EXPECT_EQ(d.log().find("00112233445566778899"), std::string::npos);
  EXPECT_EQ(d.log().find(good.substr(good.find("/hls/"))), std::string::npos);
  EXPECT_EQ(d.log().find(good.substr(good.find("~hmac=") + 6, 64)), std::string::npos);
}
