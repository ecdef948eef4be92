// A running control plane for tests: a real Origin (EdgeAuth tokens) serving a small HLS tree
// made by ffmpeg, the ApiServer mounted on it, a SQLite control store in a temp dir and the fake
// daemon. HTTP goes through curl, a real client.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "control/api_server.h"
#include "db/sqlite_db.h"
#include "diagnose/diagnose.h"
#include "fake_daemon.h"
#include "origin/origin.h"
#include "records/loader.h"
#include "test_support.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv_test {

inline std::string shq(const std::string &s) {
  std::string o = "'";
  for (char c : s) {
    if (c == '\'')
      o += "'\\''";
    else
      o += c;
  }
  return o + "'";
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request with curl. `key` becomes "Authorization: Bearer KEY" when not empty.
inline Reply http(const std::string &method, const std::string &url, const std::string &key = "",
                  const std::string &body = "", const std::string &extra = "") {
  TempDir d;
  std::string hdr = d.path() + "/h", out = d.path() + "/b", in = d.path() + "/in";
  std::string cmd = "curl -s --max-time 20 -o " + out + " -D " + hdr + " -X " + method;
  if (method == "HEAD") cmd = "curl -s --max-time 20 -I -o " + out + " -D " + hdr;
  if (!key.empty()) cmd += " -H " + shq("Authorization: Bearer " + key);
  if (!body.empty()) {
    iptv::write_file_atomic(in, body);
    cmd += " -H 'Content-Type: application/json' --data-binary @" + in;
  }
  cmd += " " + extra + " " + shq(url);
  sh(cmd);
  Reply r;
  std::string h;
  iptv::read_file(hdr, h);
  iptv::read_file(out, r.body);
  for (const auto &line : iptv::split(h, '\n')) {
    if (iptv::starts_with(line, "HTTP/")) {
      r.status = std::atoi(line.c_str() + 9);
      r.headers.clear();
    }
    auto c = line.find(':');
    if (c != std::string::npos) {
      std::string k = line.substr(0, c);
      for (auto &ch : k) ch = static_cast<char>(tolower(ch));
      r.headers[k] = iptv::trim(line.substr(c + 1));
    }
  }
  return r;
}

// Records as the loader parses them (the same YAML people write).
inline iptv::ChannelRecord record(const std::string &yaml, const std::string &file = "") {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord r;
  std::vector<iptv::LoadError> errors;
  bool ok = iptv::parse_channel(yaml, file.empty() ? "test.yaml" : file, cat, r, errors);
  EXPECT_TRUE(ok) << (errors.empty() ? "" : errors[0].str());
  if (!file.empty()) r.file = file;
  return r;
}

class ControlPlane {
 public:
  // `hls_root`: a folder with an HLS tree for channel "news" (index.m3u8 + segments).
  // `port`: 0 for a free one, or a given one (to come back where a stopped plane was).
  explicit ControlPlane(const std::string &hls_root, iptv::control::ApiConfig cfg = {},
                        int port = 0) {
    db = iptv::db::Db::open(dir.path() + "/iptvd.db");
    store = std::make_unique<iptv::control::ControlStore>(*db);
    ring.add("k1", std::string(32, '\x42'), true);
    iptv::OriginConfig oc;
    oc.mode = iptv::TokenMode::kEdgeAuth;
    oc.keys = ring;
    if (port) oc.port = port;
    origin = std::make_unique<iptv::Origin>(oc);
    std::string err;
    EXPECT_TRUE(origin->start(&err)) << err;
    if (!hls_root.empty()) origin->add_channel("news", hls_root);
    add_default_channels();
    cfg_ = cfg;
    // A worker's thumbnail of "news" (GET /api/v1/channels/news/thumbnail.jpg).
    if (cfg_.thumbnail_dir.empty()) {
      cfg_.thumbnail_dir = dir.path() + "/thumbnails";
      std::filesystem::create_directories(cfg_.thumbnail_dir);
      iptv::write_file_atomic(cfg_.thumbnail_dir + "/news.jpg",
                              std::string("\xFF\xD8\xFF\xE0 not really a JPEG \xFF\xD9", 26));
    }
    mount_api();
    base = "http://127.0.0.1:" + std::to_string(origin->port());
    keys["read"] = store->create_key("reader", iptv::control::Role::kRead);
    keys["operator"] = store->create_key("ops", iptv::control::Role::kOperator);
    keys["admin"] = store->create_key("root", iptv::control::Role::kAdmin);
    iptv::control::Entitlement alice;
    alice.subject = "alice";
    alice.channels = {"news", "regional"};
    alice.groups = {"Music"};
    alice.tier = "premium";
    alice.region = "GB";
    store->put_entitlement(alice);
  }
  // The API goes away (its streams close) and comes back on the same port with the same store
  // and keys, as across an iptvd restart; meanwhile the origin answers /api/ with 404.
  void unmount_api() { api.reset(); }
  void mount_api() {
    // The real diagnosis engine over the fake daemon and the real origin.
    iptv::diagnose::EngineDeps dd;
    dd.channels = &fake;
    dd.records = &fake;
    dd.events = &fake;
    dd.store = store.get();
    dd.keys = &ring;
    dd.origin_base = [this] { return "http://127.0.0.1:" + std::to_string(origin->port()); };
    dd.mint = [this](const std::string &channel, int ttl) {
      iptv::TokenClaims c;
      c.start = (int64_t)(g_get_real_time() / 1000000);
      c.expiry = c.start + ttl;
      c.acl = iptv::acl_for_channel(channel);
      return iptv::token_to_path_segment(iptv::sign_token(c, ring));
    };
    iptv::diagnose::EngineConfig ec;
    ec.follow_seconds = 1.0;
    diagnoser = std::make_unique<iptv::diagnose::Engine>(dd, ec);
    iptv::control::ApiDeps deps{&fake, &fake, &fake, &fake, store.get(), origin.get(), &ring};
    deps.diagnoser = diagnoser.get();
    api = std::make_unique<iptv::control::ApiServer>(deps, cfg_);
    api->mount();
  }
  iptv::control::ApiConfig cfg_;

  ~ControlPlane() {
    api.reset();
    origin->stop();
  }

  void add_default_channels() {
    fake.add_channel(
        record("channel_id: news\nname: News 24\nsource: test://smpte\n"
               "profiles: [360p-600kbps]\naccess: {region: [GB, IE]}\n"
               "epg: {tvg_id: news.example, logo: 'http://logo/news.png', group: News}\n"),
        "live", {"360p"});
    fake.add_channel(record("channel_id: music\nname: Music\nsource: test://snow\n"
                            "profiles: [passthrough]\nepg: {group: Music}\n"),
                     "failover", {"passthrough"});
    fake.add_channel(record("channel_id: closed\nstatus: disabled\nsource: test://smpte\n"),
                     "disabled", {});
    fake.add_channel(record("channel_id: old\nstatus: retired\nsource: test://smpte\n"), "retired",
                     {});
    // "free" has a logo file beside its record (served at /iptv/logos/free).
    iptv::write_file_atomic(dir.path() + "/free.svg",
                            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"/>");
    fake.add_channel(record("channel_id: free\nsource: test://smpte\n"
                            "access: {account_required: false}\nepg: {logo: free.svg}\n",
                            dir.path() + "/free.yaml"),
                     "live", {"360p"});
    fake.add_channel(record("channel_id: expired\nsource: udp://239.0.0.1:5000\n"
                            "rights: {owner: X, licence: Y, expires: '2020-01-01'}\n"),
                     "live", {"360p"});
    fake.add_channel(record("channel_id: regional\nsource: udp://239.0.0.1:5000\n"
                            "rights: {owner: X, licence: Y, regions: [IE]}\n"),
                     "live", {"360p"});
  }

  TempDir dir;
  FakeDaemon fake;
  std::unique_ptr<iptv::db::Db> db;
  std::unique_ptr<iptv::control::ControlStore> store;
  iptv::KeyRing ring;
  std::unique_ptr<iptv::Origin> origin;
  std::unique_ptr<iptv::diagnose::Engine> diagnoser;
  std::unique_ptr<iptv::control::ApiServer> api;
  std::string base;
  std::map<std::string, std::string> keys;
};

// A short HLS VOD tree made by ffmpeg (the origin serves any HLS tree).
inline bool make_hls_tree(const std::string &dir, int seconds = 6) {
  std::filesystem::create_directories(dir);
  int st = -1;
  sh("ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=160x90:rate=25 -f lavfi -i "
     "sine=frequency=440 -t " +
         std::to_string(seconds) +
         " -c:v libx264 -preset ultrafast -g 25 -c:a aac -f hls -hls_time 1 -hls_list_size 0 "
         "-hls_segment_filename " +
         dir + "/seg-%d.ts " + dir + "/index.m3u8",
     &st);
  return st == 0;
}

}  // namespace iptv_test
