// The control plane against real clients: every route of schemas/openapi.yaml walked with curl
// (statuses and response shapes checked against the spec), every route x role, sessions with
// their refusal reasons, revocation seen by the origin and by ffmpeg, /metrics through promtool,
// the M3U opened by ffprobe, XMLTV, events (page, long poll, SSE) and secrets kept out of audit.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "api_fixture.h"
#include "control/secrets.h"

using nlohmann::json;
using namespace iptv_test;
namespace fs = std::filesystem;

namespace {

// ---- a small validator for the OpenAPI subset we use ----------------------------------------

json yaml_to_json(const YAML::Node &n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto &kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto &e : n) a.push_back(yaml_to_json(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      char *end = nullptr;
      long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end && !*end) return i;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && !*end) return d;
      return s;
    }
    default:
      return nullptr;
  }
}

const json &resolve(const json &schema, const json &root) {
  if (schema.is_object() && schema.contains("$ref")) {
    std::string ref = schema["$ref"].get<std::string>();  // "#/components/schemas/X"
    const json *cur = &root;
    for (const auto &part : iptv::split(ref.substr(2), '/')) cur = &(*cur)[part];
    return resolve(*cur, root);
  }
  return schema;
}

void collect_props(const json &schema, const json &root, std::set<std::string> &props, bool &open) {
  const json &s = resolve(schema, root);
  if (s.contains("allOf"))
    for (const auto &b : s["allOf"]) collect_props(b, root, props, open);
  if (s.contains("properties"))
    for (const auto &kv : s["properties"].items()) props.insert(kv.key());
  if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean()) open = true;
  if (!s.contains("properties") && !s.contains("allOf")) open = true;
}

// Strict: objects may not carry properties the spec does not name (the spec cannot drift).
bool validate(const json &v, const json &schema_in, const json &root, const std::string &path,
              std::string &err, bool strict = true) {
  const json &s = resolve(schema_in, root);
  if (v.is_null() && s.value("nullable", false)) return true;
  if (s.contains("allOf")) {
    for (const auto &b : s["allOf"])
      if (!validate(v, b, root, path, err, false)) return false;
    std::set<std::string> props;
    bool open = false;
    collect_props(s, root, props, open);
    if (!open && v.is_object())
      for (const auto &kv : v.items())
        if (!props.count(kv.key())) {
          err = path + ": property '" + kv.key() + "' is not in the spec";
          return false;
        }
    return true;
  }
  if (s.contains("oneOf")) {
    std::string e2;
    for (const auto &b : s["oneOf"])
      if (validate(v, b, root, path, e2)) return true;
    err = path + ": matches none of oneOf (" + e2 + ")";
    return false;
  }
  std::string type = s.value("type", "");
  if (type == "object") {
    if (!v.is_object()) return err = path + ": not an object", false;
    if (s.contains("required"))
      for (const auto &r : s["required"])
        if (!v.contains(r.get<std::string>()))
          return err = path + ": missing '" + r.get<std::string>() + "'", false;
    bool strict_props = s.contains("properties") && !s.contains("additionalProperties");
    for (const auto &kv : v.items()) {
      if (s.contains("properties") && s["properties"].contains(kv.key())) {
        if (!validate(kv.value(), s["properties"][kv.key()], root, path + "." + kv.key(), err))
          return false;
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
        if (!validate(kv.value(), s["additionalProperties"], root, path + "." + kv.key(), err))
          return false;
      } else if (strict_props || s.value("additionalProperties", true) == false) {
        // A branch of allOf is checked against the union of the branches by the caller.
        if (strict) {
          err = path + ": property '" + kv.key() + "' is not in the spec";
          return false;
        }
      }
    }
    return true;
  }
  if (type == "array") {
    if (!v.is_array()) return err = path + ": not an array", false;
    for (size_t i = 0; i < v.size(); ++i)
      if (!validate(v[i], s["items"], root, path + "[" + std::to_string(i) + "]", err))
        return false;
    return true;
  }
  if (type == "string") {
    if (!v.is_string()) return err = path + ": not a string", false;
    if (s.contains("enum")) {
      for (const auto &e : s["enum"])
        if (e.is_string() && e.get<std::string>() == v.get<std::string>()) return true;
      return err = path + ": '" + v.get<std::string>() + "' not in enum", false;
    }
    return true;
  }
  if (type == "integer") return v.is_number_integer() || (err = path + ": not an integer", false);
  if (type == "number") return v.is_number() || (err = path + ": not a number", false);
  if (type == "boolean") return v.is_boolean() || (err = path + ": not a boolean", false);
  return true;
}

}  // namespace

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tree_ = new TempDir();
    ASSERT_TRUE(make_hls_tree(tree_->path() + "/news"));
  }
  static void TearDownTestSuite() { delete tree_; }
  void SetUp() override { cp_ = std::make_unique<ControlPlane>(tree_->path() + "/news"); }
  void TearDown() override { cp_.reset(); }

  json spec() {
    YAML::Node n = YAML::LoadFile(source_root() + "/schemas/openapi.yaml");
    return yaml_to_json(n);
  }
  Reply call(const std::string &method, const std::string &path, const std::string &role = "admin",
             const std::string &body = "", const std::string &extra = "") {
    return http(method, cp_->base + path, role.empty() ? "" : cp_->keys[role], body, extra);
  }
  json open_session(const std::string &subject, const std::string &channel,
                    const std::string &region = "", int *status = nullptr) {
    json b = {{"channel_id", channel}};
    if (!subject.empty()) b["subject"] = subject;
    if (!region.empty()) b["region"] = region;
    Reply r = call("POST", "/api/v1/sessions", "operator", b.dump());
    if (status) *status = r.status;
    return json::parse(r.body, nullptr, false);
  }

  static TempDir *tree_;
  std::unique_ptr<ControlPlane> cp_;
};
TempDir *ApiTest::tree_ = nullptr;

TEST_F(ApiTest, SpecAndServerHaveTheSameRoutes) {
  json s = spec();
  std::set<std::string> in_spec, in_server;
  for (const auto &p : s["paths"].items())
    for (const auto &m : p.value().items()) {
      std::string method = m.key();
      for (auto &c : method) c = static_cast<char>(toupper(c));
      in_spec.insert(method + " " + p.key());
    }
  for (const auto &[m, p] : cp_->api->routes()) in_server.insert(m + " " + p);
  EXPECT_EQ(in_spec, in_server);
  EXPECT_GE(in_server.size(), 25u);
}

TEST_F(ApiTest, EveryRouteInTheSpecAnswersWithItsDocumentedStatusAndShape) {
  json s = spec();
  // Live values for '@' placeholders.
  json opened = open_session("alice", "news", "GB");
  ASSERT_TRUE(opened.contains("session_id")) << opened.dump();
  std::map<std::string, std::string> live;
  live["@session_id"] = opened["session_id"];
  iptv::control::ApiKey spare;
  cp_->store->create_key("spare", iptv::control::Role::kRead, &spare);
  live["@key_id"] = spare.id;
  live["@admin_key"] = cp_->keys["admin"];
  // The walk revokes alice's sessions (and so her playlist tokens) before it reaches the
  // playlist route: the playlist token belongs to another subject.
  iptv::control::Entitlement walker;
  walker.subject = "walker";
  walker.channels = {"news"};
  cp_->store->put_entitlement(walker);
  Reply pt = call("POST", "/api/v1/subjects/walker/playlist-token", "operator", "{}");
  ASSERT_EQ(pt.status, 201) << pt.body;
  live["@playlist_token"] = json::parse(pt.body)["token"];
  cp_->fake.post_event("failover.activated", "news");
  cp_->fake.post_event("failover.returned", "news");

  // Every operation, DELETEs last (they remove what the others read).
  std::vector<std::tuple<std::string, std::string, json>> ops;
  for (const auto &p : s["paths"].items())
    for (const auto &m : p.value().items()) {
      std::string method = m.key();
      for (auto &c : method) c = static_cast<char>(toupper(c));
      ops.emplace_back(method, p.key(), m.value());
    }
  std::stable_partition(ops.begin(), ops.end(),
                        [](const auto &o) { return std::get<0>(o) != "DELETE"; });
  int checked = 0;
  {
    for (const auto &[method, route_path, op] : ops) {
      std::string path = route_path, query;
      if (op.contains("parameters"))
        for (const auto &param_in : op["parameters"]) {
          const json &param = resolve(param_in, s);
          if (!param.contains("example")) continue;
          std::string ex = param["example"].is_string() ? param["example"].get<std::string>()
                                                        : param["example"].dump();
          if (live.count(ex)) ex = live[ex];
          std::string name = param["name"];
          if (param["in"] == "path") {
            path = std::regex_replace(path, std::regex("\\{" + name + "\\}"), ex);
          } else if (param["in"] == "query") {
            gchar *esc = g_uri_escape_string(ex.c_str(), nullptr, FALSE);
            query += (query.empty() ? "?" : "&") + name + "=" + esc;
            g_free(esc);
          }
        }
      std::string body;
      if (op.contains("requestBody")) {
        const json &content = op["requestBody"]["content"]["application/json"];
        body = content.contains("example") ? content["example"].dump() : "{}";
        for (const auto &[k, v] : live)
          for (size_t at; (at = body.find(k)) != std::string::npos;) body.replace(at, k.size(), v);
      }
      std::string role = op.value("x-role", "");
      bool streaming = op.value("x-streaming", false);
      SCOPED_TRACE(method + " " + path + query + " as '" + role + "'");
      Reply r = call(method, path + query, role, body, streaming ? "-N --max-time 2" : "");
      int expected = 999;
      for (const auto &resp : op["responses"].items()) {
        int code = std::atoi(resp.key().c_str());
        if (code >= 200 && code < 300) expected = std::min(expected, code);
      }
      EXPECT_EQ(r.status, expected) << r.body;
      ASSERT_TRUE(op["responses"].contains(std::to_string(r.status)));
      const json &resp = resolve(op["responses"][std::to_string(r.status)], s);
      if (resp.contains("content")) {
        std::string ct = resp["content"].items().begin().key();
        EXPECT_TRUE(iptv::starts_with(r.headers["content-type"], ct))
            << r.headers["content-type"] << " vs " << ct;
        if (ct == "application/json") {
          json j = json::parse(r.body, nullptr, false);
          ASSERT_FALSE(j.is_discarded()) << r.body;
          std::string err;
          EXPECT_TRUE(validate(j, resp["content"][ct]["schema"], s, "$", err)) << err << "\n"
                                                                               << r.body;
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cp_->api->routes().size()));
  // And the actions reached the daemon with the right arguments.
  ASSERT_GE(cp_->fake.actions.size(), 2u);
  EXPECT_EQ(cp_->fake.actions[0].second, iptv::control::Action::kFailover);
  EXPECT_EQ(cp_->fake.actions[1].second, iptv::control::Action::kRenditionDisable);
  EXPECT_EQ(cp_->fake.action_renditions[1], "360p");
}

TEST_F(ApiTest, EveryRouteRefusesMissingWrongAndTooSmallKeys) {
  json s = spec();
  const std::vector<std::string> roles = {"read", "operator", "admin"};
  int routes = 0;
  for (const auto &p : s["paths"].items())
    for (const auto &m : p.value().items()) {
      const json &op = m.value();
      if (!op.contains("x-role")) continue;
      std::string method = m.key();
      for (auto &c : method) c = static_cast<char>(toupper(c));
      std::string path = std::regex_replace(p.key(), std::regex("\\{[a-z]+\\}"), "x1");
      if (p.key().find("{action}") != std::string::npos)
        path = std::regex_replace(p.key(), std::regex("\\{id\\}"), "news");
      path = std::regex_replace(path, std::regex("\\{action\\}"), "failover");
      std::string need = op["x-role"];
      SCOPED_TRACE(method + " " + path);
      EXPECT_EQ(http(method, cp_->base + path).status, 401);
      Reply bad = http(method, cp_->base + path, "iptv_00000000_" + std::string(64, '0'));
      EXPECT_EQ(bad.status, 401);
      EXPECT_EQ(bad.headers["www-authenticate"], "Bearer realm=\"iptvd\"");
      EXPECT_EQ(http(method, cp_->base + path, "not-a-key").status, 401);
      for (const auto &r : roles) {
        if (r == need) break;
        Reply x = http(method, cp_->base + path, cp_->keys[r]);
        EXPECT_EQ(x.status, 403) << r << ": " << x.body;
      }
      // The smallest allowed role gets past authorisation (whatever the route then says).
      Reply ok = http(method, cp_->base + path, cp_->keys[need], method == "GET" ? "" : "{}",
                      op.value("x-streaming", false) ? "-N --max-time 1" : "");
      EXPECT_NE(ok.status, 401);
      EXPECT_NE(ok.status, 403) << ok.body;
      ++routes;
    }
  EXPECT_GE(routes, 20);
  // A revoked key is a wrong key.
  iptv::control::ApiKey k;
  std::string key = cp_->store->create_key("temp", iptv::control::Role::kAdmin, &k);
  EXPECT_EQ(http("GET", cp_->base + "/api/v1/channels", key).status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/keys/" + k.id).status, 204);
  EXPECT_EQ(http("GET", cp_->base + "/api/v1/channels", key).status, 401);
  // Denials are audited, with the route but never the presented key.
  Reply audit = call("GET", "/api/v1/audit?action=auth.denied&limit=1000");
  ASSERT_EQ(audit.status, 200);
  json a = json::parse(audit.body);
  EXPECT_GE(a["entries"].size(), static_cast<size_t>(routes * 3));
  EXPECT_EQ(audit.body.find("iptv_00000000"), std::string::npos);
  EXPECT_EQ(audit.body.find(key), std::string::npos);
}

TEST_F(ApiTest, SessionsOpenOrRefuseWithAReason) {
  struct Case {
    std::string subject, channel, region;
    int status;
    std::string reason;
  };
  iptv::control::Entitlement late;
  late.subject = "bob";
  late.channels = {"news"};
  late.expires_at = 1000;
  cp_->store->put_entitlement(late);
  const std::vector<Case> cases = {
      {"alice", "news", "GB", 201, ""},
      {"alice", "news", "", 201, ""},     // the entitlement's region
      {"alice", "music", "GB", 201, ""},  // by group
      {"", "free", "", 201, ""},          // anonymous on an open channel
      {"alice", "nope", "", 404, "channel_not_found"},
      {"alice", "closed", "", 403, "channel_disabled"},
      {"alice", "old", "", 403, "channel_retired"},
      {"alice", "expired", "", 403, "rights_expired"},
      {"", "news", "GB", 403, "account_required"},
      {"mallory", "news", "GB", 403, "not_entitled"},
      {"bob", "news", "GB", 403, "entitlement_expired"},
      {"alice", "news", "FR", 403, "region_mismatch"},
      {"alice", "regional", "", 403, "region_not_licensed"},
      {"alice", "news", "a b", 400, "invalid_request"},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.subject + " -> " + c.channel + " from '" + c.region + "'");
    int status = 0;
    json r = open_session(c.subject, c.channel, c.region, &status);
    EXPECT_EQ(status, c.status) << r.dump();
    if (c.status == 201) {
      EXPECT_TRUE(std::regex_match(r["playback_path"].get<std::string>(),
                                   std::regex("/hls/" + c.channel + "/st=[^/]+/index\\.m3u8")))
          << r.dump();
      EXPECT_EQ(r["playback_url"], cp_->base + r["playback_path"].get<std::string>());
    } else {
      EXPECT_EQ(r["reason"], c.reason) << r.dump();
    }
  }
  // Region rules of the record: a subject without a home region must say where it is.
  iptv::control::Entitlement nomad;
  nomad.subject = "nomad";
  nomad.channels = {"news"};
  cp_->store->put_entitlement(nomad);
  EXPECT_EQ(open_session("nomad", "news")["reason"], "region_required");
  EXPECT_EQ(open_session("nomad", "news", "FR")["reason"], "region_not_permitted");
  EXPECT_EQ(open_session("nomad", "news", "IE").value("channel_id", ""), "news");
  // Both outcomes are audited, without the token.
  Reply a = call("GET", "/api/v1/audit?action=session.open&limit=100");
  json entries = json::parse(a.body)["entries"];
  int ok = 0, refused = 0;
  for (const auto &e : entries) {
    if (e["outcome"] == "ok") ++ok;
    if (e["outcome"] == "refused") ++refused;
    EXPECT_EQ(e["client_ip_hash"].get<std::string>().size(), 16u);
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(refused, 12);
  EXPECT_EQ(a.body.find("hmac="), std::string::npos);
  EXPECT_EQ(a.body.find("127.0.0.1"), std::string::npos);
}

TEST_F(ApiTest, RevokedSessionIsRefusedByTheOriginWithinASecondAndFfmpegStops) {
  json s = open_session("alice", "news", "GB");
  std::string url = s["playback_url"];
  int st = -1;
  std::string out = sh("ffmpeg -v error -i " + shq(url) + " -map 0:v -f null - 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_EQ(http("GET", url).status, 200);

  auto t0 = std::chrono::steady_clock::now();
  Reply del = call("DELETE", "/api/v1/sessions/" + s["session_id"].get<std::string>(), "operator");
  ASSERT_EQ(del.status, 200) << del.body;
  Reply after = http("GET", url);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(after.status, 403);
  EXPECT_EQ(after.headers["x-iptv-deny"], "revoked");
  EXPECT_LT(elapsed, 1.0);
  std::printf("revocation: DELETE answered and the next origin request refused after %.1f ms\n",
              elapsed * 1000);
  RecordProperty("revocation_ms", static_cast<int>(elapsed * 1000));
  out = sh("ffmpeg -v error -i " + shq(url) + " -map 0:v -f null - 2>&1", &st);
  EXPECT_NE(st, 0) << out;
  // Segment requests carry the token too: they stop as well.
  std::string seg = url.substr(0, url.size() - strlen("index.m3u8")) + "seg-0.ts";
  EXPECT_EQ(http("GET", seg).status, 403);
  // Another session of the same subject still plays; revoking the subject stops it too.
  json s2 = open_session("alice", "news", "GB");
  EXPECT_EQ(http("GET", s2["playback_url"]).status, 200);
  Reply all = call("DELETE", "/api/v1/subjects/alice/sessions", "operator");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(json::parse(all.body)["count"], 1);
  EXPECT_EQ(http("GET", s2["playback_url"]).status, 403);
  // The session shows as revoked; the metrics count the denials.
  Reply g = call("GET", "/api/v1/sessions/" + s["session_id"].get<std::string>(), "read");
  EXPECT_EQ(json::parse(g.body)["revoked"], true);
  Reply m = call("GET", "/metrics", "read");
  EXPECT_NE(m.body.find("iptv_token_denials_total{reason=\"revoked\"} "), std::string::npos);
}

TEST_F(ApiTest, RevocationsSurviveARestartOfTheControlPlane) {
  json s = open_session("alice", "news", "GB");
  ASSERT_EQ(
      call("DELETE", "/api/v1/sessions/" + s["session_id"].get<std::string>(), "operator").status,
      200);
  // A new origin + ApiServer over the same database: mount() re-arms the origin.
  cp_->api.reset();
  iptv::OriginConfig oc;
  oc.mode = iptv::TokenMode::kEdgeAuth;
  oc.keys = cp_->ring;
  iptv::Origin origin2(oc);
  std::string err;
  ASSERT_TRUE(origin2.start(&err)) << err;
  origin2.add_channel("news", tree_->path() + "/news");
  iptv::control::ApiServer api2(
      {&cp_->fake, &cp_->fake, &cp_->fake, &cp_->fake, cp_->store.get(), &origin2, &cp_->ring}, {});
  api2.mount();
  std::string url =
      "http://127.0.0.1:" + std::to_string(origin2.port()) + s["playback_path"].get<std::string>();
  EXPECT_EQ(http("GET", url).status, 403);
  api2.unmount();
  origin2.stop();
}

TEST_F(ApiTest, MetricsPassPromtoolAndCarryEveryFamily) {
  call("GET", "/api/v1/channels", "read");
  http("GET", cp_->base + "/hls/news/bogus/index.m3u8");  // a denial
  open_session("mallory", "news", "GB");                  // a refusal
  Reply r = call("GET", "/metrics", "read");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(iptv::starts_with(r.headers["content-type"], "text/plain; version=0.0.4"));
  TempDir d;
  iptv::write_file_atomic(d.path() + "/m.txt", r.body);
  int st = -1;
  std::string out = sh("promtool check metrics < " + d.path() + "/m.txt 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_EQ(out, "") << out;  // no lint complaints either
  for (const char *family :
       {"iptv_channel_state{channel=\"news\",state=\"live\"} 1",
        "iptv_channel_state{channel=\"music\",state=\"failover\"} 1",
        "iptv_rendition_last_segment_age_seconds{channel=\"news\",rendition=\"360p\"} 1.5",
        "iptv_rendition_segments_total{channel=\"news\",rendition=\"360p\"} 50",
        "iptv_rendition_bytes_total{channel=\"news\",rendition=\"360p\"} 5000000",
        "iptv_rendition_bitrate_bytes_per_second{channel=\"news\",rendition=\"360p\"} 75000",
        "iptv_rendition_encoder_fps{channel=\"news\",rendition=\"360p\"} 25",
        "iptv_channel_restarts_total{channel=\"news\"} 1",
        "iptv_channel_failovers_total{channel=\"news\"} 0",
        "iptv_probe_condition_activations_total{channel=\"news\",condition=\"silence\",stream="
        "\"audio\"} 2",
        "iptv_probe_condition_active{channel=\"news\",condition=\"silence\",stream=\"audio\"} 0",
        "iptv_worker_cpu_seconds_total{channel=\"news\"} 12.5",
        "iptv_worker_memory_bytes{channel=\"news\"} 52428800",
        "iptv_webhook_outbox_depth 3",
        "iptv_webhook_delivery_failures_total 7",
        "iptv_token_denials_total{reason=\"malformed\"} 1",
        "iptv_sessions_total{outcome=\"not_entitled\"} 1",
        "iptv_http_requests_total{route=\"/api/v1/channels\",method=\"GET\",status=\"200\"} 1",
        "iptv_http_request_duration_seconds_bucket{route=\"/api/v1/channels\",le=\"+Inf\"} 1",
        "iptv_http_requests_total{route=\"/hls\",method=\"GET\",status=\"403\"} 1"})
    EXPECT_NE(r.body.find(family), std::string::npos) << family << "\n" << r.body;
}

TEST_F(ApiTest, PlaylistListsEntitledChannelsWithTokenizedUrlsThatPlay) {
  Reply t = call("POST", "/api/v1/subjects/alice/playlist-token", "operator", "{}");
  ASSERT_EQ(t.status, 201);
  json tok = json::parse(t.body);
  Reply m = http("GET", tok["playlist_url"]);
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.headers["content-type"], "audio/x-mpegurl");
  auto lines = iptv::split(m.body, '\n');
  ASSERT_GE(lines.size(), 5u) << m.body;
  EXPECT_EQ(lines[0], "#EXTM3U url-tvg=\"" + cp_->base + "/iptv/epg.xml\" x-tvg-url=\"" +
                          cp_->base + "/iptv/epg.xml\"");
  // alice: news (channel), music (group Music); regional is listed in her entitlement but its
  // licence does not cover her region GB, so it is left out; nothing else appears.
  EXPECT_EQ(lines.size(), 5u) << m.body;
  EXPECT_EQ(lines[1], "#EXTINF:-1 tvg-id=\"music\" tvg-name=\"Music\" group-title=\"Music\",Music");
  EXPECT_EQ(lines[3],
            "#EXTINF:-1 tvg-id=\"news.example\" tvg-name=\"News 24\" "
            "tvg-logo=\"http://logo/news.png\" group-title=\"News\",News 24");
  EXPECT_TRUE(
      std::regex_match(lines[4], std::regex(cp_->base + "/hls/news/st=[^/]+/index\\.m3u8")));
  int st = -1;
  std::string probe =
      sh("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 " + shq(lines[4]), &st);
  EXPECT_EQ(st, 0);
  EXPECT_NE(probe.find("video"), std::string::npos) << probe;
  // Refusals: no token, a forged one, a revoked subject.
  EXPECT_EQ(http("GET", cp_->base + "/iptv/playlist.m3u").status, 401);
  std::string forged = tok["token"];
  forged.back() = forged.back() == '0' ? '1' : '0';
  gchar *esc = g_uri_escape_string(forged.c_str(), nullptr, FALSE);
  EXPECT_EQ(http("GET", cp_->base + "/iptv/playlist.m3u?token=" + esc).status, 403);
  g_free(esc);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // revocation is per second
  call("DELETE", "/api/v1/subjects/alice/sessions", "operator");
  EXPECT_EQ(http("GET", tok["playlist_url"]).status, 403);
  EXPECT_EQ(http("GET", lines[4]).status, 403);  // the playlist's sessions were revoked too
}

TEST_F(ApiTest, EpgIsXmltvInUtcWithOverlapsTrimmedAndUnknownChannelsDropped) {
  TempDir d;
  iptv::write_file_atomic(
      d.path() + "/upstream.xml",
      "<?xml version=\"1.0\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n<tv>\n"
      "<programme start=\"20261129180000 +0100\" stop=\"20261129190000 +0100\" "
      "channel=\"news.example\"><title lang=\"en\">Evening &amp; News</title></programme>\n"
      "<programme start=\"20261129183000 +0100\" stop=\"20261129193000 +0100\" "
      "channel=\"news.example\"><title>Late</title><desc>d</desc></programme>\n"
      "<programme start=\"20261129180000 +0000\" stop=\"20261129190000 +0000\" "
      "channel=\"unknown.tv\"><title>Other</title></programme>\n</tv>\n");
  iptv::write_file_atomic(
      d.path() + "/music.yaml",
      "timezone: '+02:00'\nprogrammes:\n"
      "  - {start: '2026-11-29T20:00:00', duration_minutes: 60, title: Hits}\n");
  cp_->fake.recs[0].epg.schedule = "upstream.xml";
  cp_->fake.recs[0].file = d.path() + "/news.yaml";
  cp_->fake.recs[1].epg.schedule = "music.yaml";
  cp_->fake.recs[1].file = d.path() + "/music.yaml.rec";
  Reply r;
  {
    // Unknown channels are dropped with a warning (once per distinct warning).
    ExpectGLog warn("programmes of unknown channel 'unknown.tv' dropped");
    r = http("GET", cp_->base + "/iptv/epg.xml");
    http("GET", cp_->base + "/iptv/epg.xml");
    EXPECT_EQ(warn.count(), 1);
  }
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<programme start=\"20261129170000 +0000\" stop=\"20261129173000 +0000\" "
                        "channel=\"news.example\">"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<title lang=\"en\">Evening &amp; News</title>"), std::string::npos);
  EXPECT_NE(r.body.find("start=\"20261129173000 +0000\" stop=\"20261129183000 +0000\""),
            std::string::npos);
  EXPECT_NE(r.body.find("start=\"20261129180000 +0000\" stop=\"20261129190000 +0000\" "
                        "channel=\"music\""),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("unknown.tv"), std::string::npos);
  EXPECT_EQ(r.body.find("channel id=\"closed\""), std::string::npos);
  // Well-formed: xmllint (libxml2) parses it when present.
  if (sh("command -v xmllint").size()) {
    iptv::write_file_atomic(d.path() + "/epg.xml", r.body);
    int st = -1;
    sh("xmllint --noout " + d.path() + "/epg.xml 2>&1", &st);
    EXPECT_EQ(st, 0);
  }
}

TEST_F(ApiTest, EventsPageFilterLongPollAndStream) {
  for (int i = 0; i < 5; ++i)
    cp_->fake.post_event(i % 2 ? "source.lost" : "failover.activated", i < 3 ? "news" : "music");
  json p = json::parse(call("GET", "/api/v1/events?limit=2", "read").body);
  ASSERT_EQ(p["events"].size(), 2u);
  EXPECT_EQ(p["events"][0]["id"], 5);  // newest first
  EXPECT_TRUE(p["more"]);
  json older = json::parse(call("GET", "/api/v1/events?limit=10&before=4", "read").body);
  EXPECT_EQ(older["events"].size(), 3u);
  json f = json::parse(call("GET", "/api/v1/events?channel=news&type=failover.*", "read").body);
  EXPECT_EQ(f["events"].size(), 2u);
  EXPECT_EQ(call("GET", "/api/v1/events?after=x", "read").status, 400);

  // Long poll: answered when the event arrives, not at the timeout.
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    cp_->fake.post_event("slate.entered", "news");
  });
  auto t0 = std::chrono::steady_clock::now();
  Reply lp = call("GET", "/api/v1/events?after=5&wait=10", "read");
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  poster.join();
  ASSERT_EQ(lp.status, 200);
  json lpj = json::parse(lp.body);
  ASSERT_EQ(lpj["events"].size(), 1u) << lp.body;
  EXPECT_EQ(lpj["events"][0]["event_type"], "slate.entered");
  EXPECT_GT(waited, 0.3);
  EXPECT_LT(waited, 3.0);
  // Timeout with nothing new: an empty page.
  Reply empty = call("GET", "/api/v1/events?after=6&wait=1", "read");
  EXPECT_EQ(json::parse(empty.body)["events"].size(), 0u);

  // SSE: replay after 4, then live events, then the API keeps answering meanwhile.
  std::thread poster2([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cp_->fake.post_event("failover.returned", "news");
    cp_->fake.post_event("source.lost", "music");
  });
  Reply sse =
      call("GET", "/api/v1/events/stream?after=4&channel=news", "read", "", "-N --max-time 2");
  poster2.join();
  EXPECT_EQ(sse.status, 200);
  EXPECT_TRUE(iptv::starts_with(sse.headers["content-type"], "text/event-stream"));
  EXPECT_EQ(sse.body.find("id: 5\n"), std::string::npos);  // music: filtered out
  EXPECT_NE(sse.body.find("id: 6\nevent: slate.entered\ndata: {"), std::string::npos) << sse.body;
  EXPECT_NE(sse.body.find("id: 7\nevent: failover.returned\n"), std::string::npos) << sse.body;
  EXPECT_EQ(sse.body.find("id: 8\n"), std::string::npos);
}

TEST_F(ApiTest, ChannelDetailAnswersTheIncidentQuestionsWithoutSecrets) {
  cp_->fake.post_event("failover.activated", "news");
  Reply r = call("GET", "/api/v1/channels/news", "read");
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["state"], "live");
  EXPECT_EQ(j["active_source"], "primary");
  EXPECT_EQ(j["renditions"][0]["encoder"], "x264enc");
  EXPECT_EQ(j["renditions"][0]["last_segment_age_seconds"], 1.5);
  EXPECT_EQ(j["last_events"][0]["event_type"], "failover.activated");
  EXPECT_EQ(j["sources"][0]["uri"], "srt://***@10.0.0.1:9000?***");
  EXPECT_EQ(r.body.find("topsecret"), std::string::npos);
  EXPECT_EQ(call("GET", "/api/v1/channels/none", "read").status, 404);
  // A conflict from the daemon is a 409 with its message.
  Reply ret = call("POST", "/api/v1/channels/news/actions/return", "operator");
  EXPECT_EQ(ret.status, 409);
  EXPECT_EQ(json::parse(ret.body)["error"], "conflict");
  EXPECT_EQ(call("POST", "/api/v1/channels/news/actions/explode", "operator").status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/channels/news/renditions/1080p", "operator", "{\"enabled\":true}")
                .status,
            404);
  EXPECT_EQ(call("PUT", "/api/v1/channels/news/renditions/360p", "operator", "{}").status, 400);
  // Readiness follows the channels.
  EXPECT_EQ(http("GET", cp_->base + "/readyz").status, 200);
  cp_->fake.details["free"].channel.state = "starting";
  Reply nr = http("GET", cp_->base + "/readyz");
  EXPECT_EQ(nr.status, 503);
  EXPECT_EQ(json::parse(nr.body)["not_ready"][0]["id"], "free");
}

TEST_F(ApiTest, KeysAreShownOnceAndNeverAgain) {
  Reply c = call("POST", "/api/v1/keys", "admin", "{\"name\":\"ci\",\"role\":\"operator\"}");
  ASSERT_EQ(c.status, 201);
  json k = json::parse(c.body);
  std::string key = k["key"];
  EXPECT_TRUE(std::regex_match(key, std::regex("iptv_[0-9a-f]{8}_[0-9a-f]{64}")));
  EXPECT_EQ(key.substr(5, 8), k["id"]);
  EXPECT_EQ(http("POST", cp_->base + "/api/v1/channels/news/actions/purge", key).status, 202);
  std::string secret = key.substr(14);
  EXPECT_EQ(call("GET", "/api/v1/keys").body.find(secret), std::string::npos);
  Reply audit = call("GET", "/api/v1/audit?limit=1000");
  EXPECT_EQ(audit.body.find(secret), std::string::npos);
  // Nor in the database file, where only its SHA-256 is.
  std::string dbtext;
  iptv::read_file(cp_->dir.path() + "/iptvd.db", dbtext);
  std::string wal;
  iptv::read_file(cp_->dir.path() + "/iptvd.db-wal", wal);
  EXPECT_EQ((dbtext + wal).find(secret), std::string::npos);
  EXPECT_NE((dbtext + wal).find(iptv::control::sha256_hex(secret)), std::string::npos);
  // A key cannot lock itself out; bad roles are refused.
  iptv::control::ApiKey self;
  std::string admin2 = cp_->store->create_key("a2", iptv::control::Role::kAdmin, &self);
  EXPECT_EQ(http("DELETE", cp_->base + "/api/v1/keys/" + self.id, admin2).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/keys", "admin", "{\"name\":\"x\",\"role\":\"root\"}").status,
            400);
}

TEST_F(ApiTest, EntitlementsCrud) {
  json e = {{"subject", "erin"}, {"channels", {"news"}}, {"tier", "basic"}, {"region", "IE"}};
  EXPECT_EQ(call("POST", "/api/v1/entitlements", "admin", e.dump()).status, 201);
  EXPECT_EQ(call("POST", "/api/v1/entitlements", "admin", e.dump()).status, 409);
  EXPECT_EQ(open_session("erin", "news")["region"], "IE");
  json upd = {{"channels", json::array()}, {"groups", {"News"}}};
  EXPECT_EQ(call("PUT", "/api/v1/entitlements/erin", "admin", upd.dump()).status, 200);
  json got = json::parse(call("GET", "/api/v1/entitlements/erin").body);
  EXPECT_EQ(got["groups"][0], "News");
  EXPECT_EQ(got["region"], "");
  EXPECT_EQ(call("PUT", "/api/v1/entitlements/erin", "admin", "{\"chanels\":[]}").status, 400);
  EXPECT_EQ(call("PUT", "/api/v1/entitlements/erin", "admin", "{\"channels\":[\"a b\"]}").status,
            400);
  EXPECT_EQ(call("DELETE", "/api/v1/entitlements/erin").status, 204);
  EXPECT_EQ(call("DELETE", "/api/v1/entitlements/erin").status, 404);
  int st = 0;
  EXPECT_EQ(open_session("erin", "news", "IE", &st)["reason"], "not_entitled");
  // Audited with outcome.
  json a = json::parse(call("GET", "/api/v1/audit?target=erin&limit=100").body);
  std::multiset<std::string> seen;
  for (const auto &x : a["entries"])
    seen.insert(x["action"].get<std::string>() + "/" + x["outcome"].get<std::string>());
  EXPECT_EQ(seen.count("entitlement.create/ok"), 1u);
  EXPECT_EQ(seen.count("entitlement.create/error"), 1u);
  EXPECT_EQ(seen.count("entitlement.delete/ok"), 1u);
  EXPECT_EQ(seen.count("entitlement.delete/error"), 1u);
}

TEST_F(ApiTest, GrafanaDashboardIsValidJsonAndQueriesOnlyExposedMetrics) {
  std::string text;
  ASSERT_TRUE(iptv::read_file(source_root() + "/docs/grafana-dashboard.json", text));
  json d = json::parse(text, nullptr, false);
  ASSERT_FALSE(d.is_discarded());
  ASSERT_TRUE(d["panels"].is_array());
  // Every family the metrics endpoint exposes (from its TYPE lines).
  cp_->fake.post_event("failover.activated", "news");
  Reply m = call("GET", "/metrics", "read");
  std::set<std::string> families;
  for (const auto &line : iptv::split(m.body, '\n'))
    if (iptv::starts_with(line, "# TYPE ")) families.insert(iptv::split(line, ' ')[2]);
  std::set<std::string> used;
  std::regex metric("iptv_[a-z_]+");
  for (const auto &p : d["panels"]) {
    ASSERT_TRUE(p.contains("targets")) << p["title"];
    for (const auto &t : p["targets"]) {
      std::string expr = t["expr"];
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
           it != std::sregex_iterator(); ++it) {
        std::string name = it->str();
        for (const char *suffix : {"_bucket", "_sum", "_count"})
          if (iptv::ends_with(name, suffix) && !families.count(name))
            name = name.substr(0, name.size() - strlen(suffix));
        EXPECT_TRUE(families.count(name)) << name << " in panel " << p["title"];
        used.insert(name);
      }
    }
  }
  // Every per-channel/rendition family of the issue has a panel.
  for (const char *f :
       {"iptv_channel_state", "iptv_rendition_last_segment_age_seconds",
        "iptv_rendition_segments_total", "iptv_rendition_bitrate_bytes_per_second",
        "iptv_rendition_encoder_fps", "iptv_channel_restarts_total", "iptv_channel_failovers_total",
        "iptv_probe_condition_active", "iptv_probe_condition_activations_total",
        "iptv_worker_cpu_seconds_total", "iptv_worker_memory_bytes", "iptv_token_denials_total",
        "iptv_http_requests_total", "iptv_http_request_duration_seconds",
        "iptv_webhook_outbox_depth", "iptv_webhook_delivery_failures_total",
        // issue 17: viewer-side signals
        "iptv_viewer_requests_total", "iptv_viewer_errors_total", "iptv_viewer_rebuffer_ratio",
        "iptv_viewer_startup_seconds", "iptv_viewer_buffer_starvations_total"})
    EXPECT_TRUE(used.count(f)) << f;
}

TEST_F(ApiTest, WithoutAKeyRingSessionsAndPlaylistsAreUnavailableNotUnprotected) {
  cp_->api.reset();
  iptv::Origin open_origin(iptv::OriginConfig{});  // token mode none
  std::string err;
  ASSERT_TRUE(open_origin.start(&err)) << err;
  iptv::KeyRing none;
  iptv::control::ApiServer api2(
      {&cp_->fake, &cp_->fake, &cp_->fake, &cp_->fake, cp_->store.get(), &open_origin, &none}, {});
  api2.mount();
  std::string base = "http://127.0.0.1:" + std::to_string(open_origin.port());
  Reply s = http("POST", base + "/api/v1/sessions", cp_->keys["operator"],
                 "{\"subject\":\"alice\",\"channel_id\":\"news\"}");
  EXPECT_EQ(s.status, 503);
  EXPECT_EQ(json::parse(s.body)["error"], "unavailable");
  EXPECT_EQ(
      http("POST", base + "/api/v1/subjects/alice/playlist-token", cp_->keys["operator"], "{}")
          .status,
      503);
  EXPECT_EQ(http("GET", base + "/iptv/playlist.m3u?token=x").status, 503);
  EXPECT_EQ(http("GET", base + "/api/v1/channels", cp_->keys["read"]).status, 200);
  api2.unmount();
  open_origin.stop();
}

// Issue 25: in securelink mode the refusal said "the origin runs without a key ring", which is
// untrue (tokens are on); it must name the real cause and the way out.
TEST_F(ApiTest, InSecurelinkModeSessionsAreRefusedWithTheRealReason) {
  cp_->api.reset();
  iptv::OriginConfig oc;
  oc.mode = iptv::TokenMode::kSecureLink;
  oc.securelink_secret = "edge-secret-0123456789";
  iptv::Origin sl_origin(oc);
  std::string err;
  ASSERT_TRUE(sl_origin.start(&err)) << err;
  iptv::KeyRing none;
  iptv::control::ApiServer api2(
      {&cp_->fake, &cp_->fake, &cp_->fake, &cp_->fake, cp_->store.get(), &sl_origin, &none}, {});
  api2.mount();
  std::string base = "http://127.0.0.1:" + std::to_string(sl_origin.port());
  Reply s = http("POST", base + "/api/v1/sessions", cp_->keys["operator"],
                 "{\"subject\":\"alice\",\"channel_id\":\"news\"}");
  EXPECT_EQ(s.status, 503);
  std::string msg = json::parse(s.body)["message"];
  EXPECT_EQ(msg.find("key ring"), std::string::npos) << msg;
  EXPECT_NE(msg.find("edgeauth"), std::string::npos) << msg;
  EXPECT_NE(msg.find("securelink"), std::string::npos) << msg;
  Reply t =
      http("POST", base + "/api/v1/subjects/alice/playlist-token", cp_->keys["operator"], "{}");
  EXPECT_EQ(t.status, 503);
  EXPECT_NE(t.body.find("edgeauth"), std::string::npos) << t.body;
  Reply m = http("GET", base + "/iptv/playlist.m3u?token=x");
  EXPECT_EQ(m.status, 503);
  EXPECT_NE(m.body.find("edgeauth"), std::string::npos) << m.body;
  EXPECT_EQ(m.body.find("no key ring"), std::string::npos) << m.body;
  api2.unmount();
  sl_origin.stop();
}

TEST_F(ApiTest, StreamClientsThatGoAwayAreDroppedAndLongPollsEndOnUnmount) {
  auto clients = [&] {
    Reply m = call("GET", "/metrics", "read");
    std::smatch sm;
    std::regex r("\niptv_event_stream_clients (\\d+)\n");
    return std::regex_search(m.body, sm, r) ? std::stoi(sm[1]) : -1;
  };
  // Two followers that hang up after a second.
  sh("(curl -s -N --max-time 1 -H " + shq("Authorization: Bearer " + cp_->keys["read"]) + " " +
     shq(cp_->base + "/api/v1/events/stream") + " > /dev/null &); (curl -s -N --max-time 1 -H " +
     shq("Authorization: Bearer " + cp_->keys["read"]) + " " +
     shq(cp_->base + "/api/v1/events/stream") + " > /dev/null &)");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(clients(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // The next event is written to the closed connections: they are noticed and dropped.
  cp_->fake.post_event("slate.entered", "news");
  bool dropped = false;
  for (int i = 0; i < 30 && !dropped; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    dropped = clients() == 0;
  }
  EXPECT_TRUE(dropped);
  // A long poll in flight when the server unmounts is answered (empty), not left hanging.
  std::thread unmounter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cp_->api->unmount();
  });
  auto t0 = std::chrono::steady_clock::now();
  Reply lp = call("GET", "/api/v1/events?after=100&wait=20", "read");
  unmounter.join();
  EXPECT_EQ(lp.status, 200);
  EXPECT_EQ(json::parse(lp.body)["events"].size(), 0u);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  // Unmounted: the routes are gone, the origin still serves.
  EXPECT_EQ(http("GET", cp_->base + "/healthz").status, 404);
}

// The API runs on the origin's control thread. A client that asks for media and then for an API
// route on the same keep-alive connection (a browser's pool does) gets both answered; a long
// poll or an event stream asked there is redirected (307, Connection: close) to a new connection,
// which the acceptor hands to the control thread.
TEST_F(ApiTest, ApiRoutesOnAMediaConnectionAreAnsweredAndStreamsMoveToTheControlThread) {
  json s = open_session("alice", "news", "GB");
  std::string media = s["playback_url"];
  std::string auth = shq("Authorization: Bearer " + cp_->keys["read"]);
  int st = -1;
  std::string out = sh("curl -sv -o /dev/null -o /dev/null -w '%{http_code}\\n' -H " + auth + " " +
                           shq(media) + " " + shq(cp_->base + "/api/v1/channels") + " 2>&1",
                       &st);
  EXPECT_NE(out.find("Re-using existing connection"), std::string::npos) << out;
  auto lines = iptv::split(iptv::trim(out), '\n');
  ASSERT_GE(lines.size(), 2u);
  std::vector<std::string> codes;
  for (const auto &l : lines)
    if (l == "200" || l.size() == 3) codes.push_back(l);
  EXPECT_EQ(codes, (std::vector<std::string>{"200", "200"})) << out;
  // A long poll on the media connection: 307 to itself, then answered on a new connection.
  cp_->fake.post_event("source.lost", "news");
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    cp_->fake.post_event("slate.entered", "news");
  });
  out = sh("curl -s -L -o /dev/null -o " + shq(cp_->dir.path() + "/lp.json") +
               " -w '%{http_code} %{num_redirects}\\n' -H " + auth + " " + shq(media) + " " +
               shq(cp_->base + "/api/v1/events?after=1&wait=10"),
           &st);
  poster.join();
  EXPECT_NE(out.find("200 0\n200 1"), std::string::npos) << out;
  std::string lp;
  iptv::read_file(cp_->dir.path() + "/lp.json", lp);
  EXPECT_NE(lp.find("slate.entered"), std::string::npos) << lp;
}

// ---- the operator console's API side (docs/console.md) ----

namespace {

std::string cookie_of(const Reply &r) {
  auto it = r.headers.find("set-cookie");
  if (it == r.headers.end()) return "";
  return it->second.substr(0, it->second.find(';'));
}

}  // namespace

// The login sets an HttpOnly, SameSite=Strict cookie with an expiry; the cookie authenticates
// every route; a mutating call needs the session's CSRF token; a revoked key ends the session;
// logout ends it; the key itself is never in a log or audit row.
TEST_F(ApiTest, ConsoleLoginCookieCsrfAndRevocation) {
  iptv::control::ApiKey k;
  std::string key = cp_->store->create_key("console op", iptv::control::Role::kOperator, &k);
  Reply form = http("POST", cp_->base + "/api/v1/console/login", "", "", "-d key=" + key);
  EXPECT_EQ(form.status, 415) << form.body;  // a cross-site form cannot log in
  EXPECT_EQ(call("POST", "/api/v1/console/login", "", R"({"key":"iptv_00000000_x"})").status, 401);
  Reply in = call("POST", "/api/v1/console/login", "", json{{"key", key}}.dump());
  ASSERT_EQ(in.status, 201) << in.body;
  std::string set = in.headers["set-cookie"];
  EXPECT_NE(set.find("HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("Max-Age=28800"), std::string::npos) << set;
  EXPECT_NE(set.find("Path=/"), std::string::npos) << set;
  std::string cookie = cookie_of(in);
  ASSERT_EQ(cookie.size(), std::string("iptv_console=").size() + 64) << cookie;
  json s = json::parse(in.body);
  EXPECT_EQ(s["role"], "operator");
  std::string csrf = s["csrf_token"];
  auto with = [&](const std::string &method, const std::string &path, const std::string &extra) {
    return http(method, cp_->base + path, "", method == "GET" ? "" : "{}",
                "-H " + iptv_test::shq("Cookie: " + cookie) + " " + extra);
  };
  EXPECT_EQ(with("GET", "/api/v1/channels", "").status, 200);
  Reply me = with("GET", "/api/v1/console/session", "");
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["csrf_token"], csrf);
  Reply no_csrf = with("POST", "/api/v1/channels/news/actions/purge", "");
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_EQ(json::parse(no_csrf.body)["error"], "csrf");
  EXPECT_EQ(with("POST", "/api/v1/channels/news/actions/purge",
                 "-H " + iptv_test::shq("X-CSRF-Token: " + csrf))
                .status,
            202);
  // The role still applies: an operator's cookie cannot list keys.
  EXPECT_EQ(with("GET", "/api/v1/keys", "").status, 403);
  // The preview session: 300 s, for an operator.
  Reply pv = with("POST", "/api/v1/channels/news/preview",
                  "-H " + iptv_test::shq("X-CSRF-Token: " + csrf));
  ASSERT_EQ(pv.status, 201) << pv.body;
  json pj = json::parse(pv.body);
  auto sess = cp_->store->session(pj["session_id"]);
  ASSERT_TRUE(sess);
  EXPECT_LE(sess->expires_at - sess->created_at, 300);
  EXPECT_EQ(http("GET", cp_->base + pj["playback_path"].get<std::string>()).status, 200);
  // A revoked key ends its console sessions.
  EXPECT_EQ(call("DELETE", "/api/v1/keys/" + k.id).status, 204);
  Reply gone = with("GET", "/api/v1/channels", "");
  EXPECT_EQ(gone.status, 401);
  EXPECT_EQ(json::parse(gone.body)["error"], "key_revoked");
  // An unknown cookie is said to be unknown.
  Reply unknown = http("GET", cp_->base + "/api/v1/channels", "", "",
                       "-H 'Cookie: iptv_console=" + std::string(64, 'f') + "'");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(json::parse(unknown.body)["error"], "session_unknown");
  // Logout (another key) clears the cookie and ends the session.
  std::string admin_cookie = cookie_of(
      call("POST", "/api/v1/console/login", "", json{{"key", cp_->keys["admin"]}}.dump()));
  std::string admin_csrf = json::parse(http("GET", cp_->base + "/api/v1/console/session", "", "",
                                            "-H " + iptv_test::shq("Cookie: " + admin_cookie))
                                           .body)["csrf_token"];
  Reply out = http("POST", cp_->base + "/api/v1/console/logout", "", "{}",
                   "-H " + iptv_test::shq("Cookie: " + admin_cookie) + " -H " +
                       iptv_test::shq("X-CSRF-Token: " + admin_csrf));
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.headers["set-cookie"].find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(http("GET", cp_->base + "/api/v1/channels", "", "",
                 "-H " + iptv_test::shq("Cookie: " + admin_cookie))
                .status,
            401);
  // Neither the key, the cookie nor the CSRF token is stored in the audit log.
  std::string audit = call("GET", "/api/v1/audit?limit=1000").body;
  EXPECT_NE(audit.find("console.login"), std::string::npos);
  for (const std::string &secret : {key.substr(14), cookie.substr(13), csrf})
    EXPECT_EQ(audit.find(secret), std::string::npos) << secret;
}

// The overview counts each channel's /hls requests and errors and its open sessions; the
// thumbnail and logo routes answer with ETags and 304s.
TEST_F(ApiTest, ConsoleOverviewThumbnailAndLogo) {
  auto news = [&] {
    json o = json::parse(call("GET", "/api/v1/console/overview", "read").body);
    for (auto &c : o["channels"])
      if (c["id"] == "news") return c;
    return json();
  };
  json before = news();
  ASSERT_FALSE(before.is_null());
  EXPECT_EQ(before["thumbnail_url"], "/api/v1/channels/news/thumbnail.jpg");
  EXPECT_TRUE(before["thumbnail_age_seconds"].is_number());
  json opened = open_session("alice", "news", "GB");
  ASSERT_TRUE(opened.contains("playback_url")) << opened;
  std::string url = opened["playback_url"];
  EXPECT_EQ(http("GET", url).status, 200);
  std::string bad = url;
  bad.replace(bad.find("hmac=") + 5, 1, bad[bad.find("hmac=") + 5] == '0' ? "1" : "0");
  EXPECT_EQ(http("GET", bad).status, 403);
  json after = news();
  EXPECT_EQ(after["requests"].get<int>() - before["requests"].get<int>(), 2) << after;
  EXPECT_EQ(after["errors"].get<int>() - before["errors"].get<int>(), 1) << after;
  EXPECT_EQ(after["open_sessions"].get<int>() - before["open_sessions"].get<int>(), 1) << after;
  // An unknown channel name in a URL is not counted anywhere.
  http("GET", cp_->base + "/hls/nosuch/x/index.m3u8");
  Reply t = call("GET", "/api/v1/channels/news/thumbnail.jpg", "read");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.headers["content-type"], "image/jpeg");
  EXPECT_EQ(t.headers["cache-control"], "private, no-cache");
  Reply t304 = call("GET", "/api/v1/channels/news/thumbnail.jpg", "read", "",
                    "-H " + iptv_test::shq("If-None-Match: " + t.headers["etag"]));
  EXPECT_EQ(t304.status, 304);
  EXPECT_EQ(call("GET", "/api/v1/channels/music/thumbnail.jpg", "read").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/channels/nosuch/thumbnail.jpg", "read").status, 404);
  Reply logo = http("GET", cp_->base + "/iptv/logos/free");
  ASSERT_EQ(logo.status, 200);
  EXPECT_EQ(logo.headers["content-type"], "image/svg+xml");
  EXPECT_NE(logo.headers["content-security-policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(http("GET", cp_->base + "/iptv/logos/news").status, 404);  // a URL logo
  EXPECT_NE(call("GET", "/iptv/epg.xml", "")
                .body.find("<icon src=\"" + cp_->base + "/iptv/logos/free\"/>"),
            std::string::npos);
}

// The console's files at "/": ETag and 304, the security headers, no traversal, bodies refused
// before they are read, and a clear 404 when the console is not installed.
TEST_F(ApiTest, ConsoleFilesAreServedSafely) {
  EXPECT_NE(http("GET", cp_->base + "/").body.find("not installed"), std::string::npos);
  iptv::control::ApiConfig cfg;
  cfg.console_dir = cp_->dir.path() + "/console";
  std::filesystem::create_directories(cfg.console_dir);
  iptv::write_file_atomic(cfg.console_dir + "/index.html", "<!doctype html><title>x</title>");
  iptv::write_file_atomic(cfg.console_dir + "/console.js", "1;");
  iptv::write_file_atomic(cp_->dir.path() + "/secret.txt", "TOP-SECRET");
  cp_->unmount_api();
  cp_->cfg_.console_dir = cfg.console_dir;
  cp_->mount_api();
  Reply idx = http("GET", cp_->base + "/");
  ASSERT_EQ(idx.status, 200);
  EXPECT_EQ(idx.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(idx.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(idx.headers["x-frame-options"], "DENY");
  EXPECT_EQ(http("GET", cp_->base + "/", "", "",
                 "-H " + iptv_test::shq("If-None-Match: " + idx.headers["etag"]))
                .status,
            304);
  EXPECT_EQ(http("GET", cp_->base + "/console.js").headers["content-type"],
            "text/javascript; charset=utf-8");
  // libsoup removes dot segments first; whatever reaches us, nothing outside the folder is sent.
  for (const char *p :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/.%2e/secret.txt"}) {
    Reply r = http("GET", cp_->base + p, "", "", "--path-as-is");
    EXPECT_TRUE(r.status == 400 || r.status == 403 || r.status == 404) << p << " " << r.status;
    EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << p;
  }
  EXPECT_EQ(http("GET", cp_->base + "/nope.js").status, 404);
  Reply post = http("POST", cp_->base + "/", "", "{}");
  EXPECT_EQ(post.status, 405);
  // The origin and the API keep their paths.
  EXPECT_EQ(http("GET", cp_->base + "/healthz").status, 200);
  EXPECT_EQ(http("GET", cp_->base + "/api/v1/channels").status, 401);
}
