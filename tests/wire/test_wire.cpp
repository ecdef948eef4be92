// The daemon-worker protocol (orchestrator/lib/wire): every status line, every command and the
// worker spec survive JSON both ways; a malformed line is refused with the kind and field named.
#include <gtest/gtest.h>

#include <set>

#include "wire/spec.h"
#include "wire/status.h"

using namespace iptv::wire;
using nlohmann::json;

namespace {

// One message of each status kind, every field set to something other than its default.
std::vector<StatusLine> every_status_kind() {
  Stats stats;
  stats.renditions["360p"] = {29.97, 610000};
  stats.renditions["720p"] = {30, 2.5e6};
  stats.inputs["primary"] = {3.1e6, "H.264 (high)", "AAC (lc)", 40, 2};
  stats.queues.push_back({"primary/tail-video/queue2", 400, 2000, 0, 0, 12, 0, 0.2});
  return {
      Hello{.pid = 4242, .channel_id = "news"},
      Heartbeat{.media_age_ms = 120},
      State{.state = "failover", .reason = "primary lost", .active_source = "backup"},
      Segment{.rendition = "360p",
              .sequence = 1764000000123ull,
              .discontinuity_sequence = 2,
              .duration = 2.002,
              .bytes = 150000,
              .uri = "360p/seg-1764000000123.ts",
              .pdt = "2026-12-07T16:00:00.000Z",
              .media_sequence = 1764000000118ull,
              .discontinuity = true},
      Encoder{.rendition = "720p", .factory = "vah264enc", .hardware = true},
      Probe{.condition = "silence",
            .active = true,
            .stream = "audio",
            .detail = "-70 dB for 10 s",
            .source = "backup"},
      Event{.event_type = "failover.activated", .reason = "primary lost", .source = "backup"},
      Source{.source = "backup", .healthy = true, .detail = "receiving"},
      stats,
      Error{.message = "the output pipeline cannot start"},
      Ack{.cmd = "rendition", .ok = false, .detail = "no rendition 'x'"},
  };
}

template <typename T>
bool same(const T &a, const T &b) {
  return to_json(StatusLine(a)) == to_json(StatusLine(b));
}

}  // namespace

TEST(WireStatus, EveryKindRoundTrips) {
  auto lines = every_status_kind();
  std::set<std::string> kinds;
  for (const auto &line : lines) {
    std::string text = encode_status(line);
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    StatusLine back = parse_status(text);
    ASSERT_EQ(back.index(), line.index()) << text;
    EXPECT_EQ(encode_status(back), text);
    kinds.insert(json::parse(text)["t"]);
  }
  // Every alternative of StatusLine is covered above.
  EXPECT_EQ(kinds, std::set<std::string>(status_types().begin(), status_types().end()));
  EXPECT_EQ(status_types().size(), std::variant_size_v<StatusLine>);
  // Field by field for the ones whose values matter most downstream.
  auto seg = std::get<Segment>(parse_status(encode_status(lines[3])));
  EXPECT_EQ(seg.sequence, 1764000000123ull);
  EXPECT_EQ(seg.media_sequence, 1764000000118ull);
  EXPECT_EQ(seg.bytes, 150000u);
  EXPECT_DOUBLE_EQ(seg.duration, 2.002);
  EXPECT_TRUE(seg.discontinuity);
  EXPECT_EQ(seg.pdt, "2026-12-07T16:00:00.000Z");
  auto st = std::get<Stats>(parse_status(encode_status(lines[8])));
  EXPECT_DOUBLE_EQ(st.renditions.at("360p").fps, 29.97);
  EXPECT_DOUBLE_EQ(st.renditions.at("720p").bitrate, 2.5e6);
  // The inputs and queues (issue 17, steps 3 and 4).
  EXPECT_DOUBLE_EQ(st.inputs.at("primary").bitrate_bps, 3.1e6);
  EXPECT_EQ(st.inputs.at("primary").video_codec, "H.264 (high)");
  EXPECT_EQ(st.inputs.at("primary").audio_codec, "AAC (lc)");
  EXPECT_EQ(st.inputs.at("primary").last_packet_age_ms, 40);
  EXPECT_EQ(st.inputs.at("primary").gaps, 2u);
  ASSERT_EQ(st.queues.size(), 1u);
  EXPECT_EQ(st.queues[0].name, "primary/tail-video/queue2");
  EXPECT_EQ(st.queues[0].level_ms, 400u);
  EXPECT_EQ(st.queues[0].max_ms, 2000u);
  EXPECT_EQ(st.queues[0].level_buffers, 12u);
  EXPECT_DOUBLE_EQ(st.queues[0].fill, 0.2);
  // An older worker's stats line (renditions only) still reads.
  auto old_st =
      std::get<Stats>(parse_status(R"({"t":"stats","renditions":{"a":{"fps":1,"bitrate":2}}})"));
  EXPECT_TRUE(old_st.inputs.empty());
  EXPECT_TRUE(old_st.queues.empty());
  EXPECT_EQ(std::get<Heartbeat>(parse_status(R"({"t":"hb","media_age_ms":-1})")).media_age_ms, -1);
}

// Low latency: the heartbeat's optional part_at_ms (UTC ms of each rendition's newest part)
// round-trips, is absent when empty, and a malformed one is refused.
TEST(WireStatus, HeartbeatPartTimes) {
  Heartbeat hb{.media_age_ms = 12, .part_at_ms = {{"180p", 1765140000123}, {"audio", 17}}};
  auto back = std::get<Heartbeat>(parse_status(encode_status(hb)));
  EXPECT_EQ(back.part_at_ms, hb.part_at_ms);
  EXPECT_FALSE(to_json(StatusLine{Heartbeat{.media_age_ms = 1}}).contains("part_at_ms"));
  for (const char *line : {R"({"t":"hb","media_age_ms":1,"part_at_ms":[1]})",
                           R"({"t":"hb","media_age_ms":1,"part_at_ms":{"180p":"x"}})"})
    EXPECT_THROW(parse_status(line), WireError) << line;
}

// The names on the wire are the ones docs/worker.md lists (and older daemons read).
TEST(WireStatus, FieldNamesOnTheWire) {
  auto lines = every_status_kind();
  EXPECT_EQ(to_json(lines[0]), json::parse(R"({"t":"hello","pid":4242,"channel_id":"news"})"));
  json seg = to_json(lines[3]);
  for (const char *k : {"t", "rendition", "sequence", "media_sequence", "discontinuity_sequence",
                        "discontinuity", "duration", "bytes", "uri", "pdt", "key_id"})
    EXPECT_TRUE(seg.contains(k)) << k;
  EXPECT_EQ(seg.size(), 11u);
  EXPECT_EQ(to_json(lines[8])["renditions"]["360p"],
            json::parse(R"({"fps":29.97,"bitrate":610000})"));
  EXPECT_EQ(to_json(lines[10]),
            json::parse(R"({"t":"ack","cmd":"rendition","ok":false,"detail":"no rendition 'x'"})"));
}

TEST(WireStatus, OptionalFieldsDefaultAndUnknownFieldsAreIgnored) {
  auto pr = std::get<Probe>(parse_status(R"({"t":"probe","condition":"gap","active":true})"));
  EXPECT_EQ(pr.stream, "");
  EXPECT_EQ(pr.source, "");
  // An older worker's segment line: no pdt, media_sequence, discontinuity; a newer one's extra.
  auto seg = std::get<Segment>(
      parse_status(R"({"t":"segment","rendition":"360p","sequence":7,"discontinuity_sequence":0,)"
                   R"("duration":2,"bytes":10,"uri":"360p/seg-7.ts","future":{"x":1}})"));
  EXPECT_EQ(seg.sequence, 7u);
  EXPECT_EQ(seg.pdt, "");
  EXPECT_FALSE(seg.discontinuity);
}

TEST(WireStatus, MalformedLinesNameTheKindAndField) {
  auto error_of = [](const std::string &line) {
    std::string err;
    EXPECT_FALSE(parse_status_line(line, &err)) << line;
    EXPECT_THROW(parse_status(line), WireError) << line;
    return err;
  };
  EXPECT_EQ(error_of("not json"), "not a JSON object");
  EXPECT_EQ(error_of("[1,2]"), "not a JSON object");
  EXPECT_EQ(error_of(R"({"pid":1})"), "status line: no \"t\" field");
  EXPECT_EQ(error_of(R"({"t":7})"), "status line: field 't' expected a string");
  EXPECT_EQ(error_of(R"({"t":"bogus"})"), "unknown status type 'bogus'");
  EXPECT_EQ(error_of(R"({"t":"hb"})"), "hb: field 'media_age_ms' is required");
  EXPECT_EQ(error_of(R"({"t":"hb","media_age_ms":"soon"})"),
            "hb: field 'media_age_ms' expected an integer");
  EXPECT_EQ(error_of(R"({"t":"segment","rendition":"360p","sequence":-1,)"
                     R"("discontinuity_sequence":0,"duration":2,"bytes":1,"uri":"u"})"),
            "segment: field 'sequence' expected an unsigned integer");
  EXPECT_EQ(error_of(R"({"t":"segment","rendition":"360p","sequence":1,)"
                     R"("discontinuity_sequence":0,"duration":2,"uri":"u"})"),
            "segment: field 'bytes' is required");
  // A wrong type in an optional field is an error too, not a silent default.
  EXPECT_EQ(error_of(R"({"t":"probe","condition":"gap","active":true,"stream":1})"),
            "probe: field 'stream' expected a string");
  EXPECT_EQ(error_of(R"({"t":"source","source":"backup","healthy":"yes"})"),
            "source: field 'healthy' expected a boolean");
  EXPECT_EQ(error_of(R"({"t":"stats","renditions":{"360p":{"fps":30}}})"),
            "stats: renditions.360p: field 'bitrate' is required");
  EXPECT_EQ(error_of(R"({"t":"stats","renditions":[]})"),
            "stats: field 'renditions' expected an object");
}

TEST(WireCommand, EveryKindRoundTrips) {
  std::vector<Command> cmds = {CmdFailover{},
                               CmdReturn{},
                               CmdStop{},
                               CmdRendition{.name = "720p", .enabled = false},
                               CmdKey{.period = 7, .key_id = "k7", .key = "00ff", .iv = "0a0b"},
                               CmdFencingToken{.token = 42}};
  std::set<std::string> names;
  for (const auto &c : cmds) {
    std::string text = encode_command(c);
    Command back = parse_command(text);
    ASSERT_EQ(back.index(), c.index()) << text;
    EXPECT_EQ(encode_command(back), text);
    names.insert(command_name(c));
  }
  EXPECT_EQ(names.size(), std::variant_size_v<Command>);
  EXPECT_EQ(encode_command(CmdStop{}), R"({"cmd":"stop"})");
  auto r =
      std::get<CmdRendition>(parse_command(R"({"cmd":"rendition","name":"720p","enabled":false})"));
  EXPECT_EQ(r.name, "720p");
  EXPECT_FALSE(r.enabled);
  EXPECT_EQ(encode_command(CmdKey{.period = 7, .key_id = "k7", .key = "00ff", .iv = "0a0b"}),
            R"({"cmd":"key","iv":"0a0b","key":"00ff","key_id":"k7","period":7})");
  EXPECT_THROW(parse_command(R"({"cmd":"key","period":7,"key_id":"k7","key":"00"})"), WireError);
  // The fencing token a worker started before its node owned the channel gets (docs/cluster.md).
  EXPECT_EQ(encode_command(CmdFencingToken{.token = 42}), R"({"cmd":"fencing_token","token":42})");
  EXPECT_THROW(parse_command(R"({"cmd":"fencing_token"})"), WireError);
  EXPECT_THROW(parse_command(R"({"cmd":"fencing_token","token":0})"), WireError);
}

TEST(WireCommand, MalformedCommandsNameTheField) {
  auto error_of = [](const std::string &line) {
    try {
      parse_command(line);
    } catch (const WireError &e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "accepted: " << line;
    return std::string();
  };
  EXPECT_EQ(error_of("stop"), "not a JSON object");
  EXPECT_EQ(error_of(R"({"cmd":"reboot"})"), "unknown command 'reboot'");
  EXPECT_EQ(error_of(R"({"name":"x"})"), "command: no \"cmd\" field");
  EXPECT_EQ(error_of(R"({"cmd":"rendition","name":"720p"})"),
            "rendition: field 'enabled' is required");
  EXPECT_EQ(error_of(R"({"cmd":"rendition","name":3,"enabled":true})"),
            "rendition: field 'name' expected a string");
}

TEST(WireSpec, RoundTripsAndNamesTheBadField) {
  WorkerSpec s;
  s.channel_id = "news";
  s.sources.push_back({"primary", "udp://239.1.1.1:5000", "udp", 1, 200, "eth0"});
  s.sources.push_back({"backup", "srt://10.0.0.1:9000", "srt", 0, 300, ""});
  s.profiles.push_back({"360p", "360p-600kbps", 640, 360, 600, 25});
  s.hls.dir = "/var/hls/news";
  s.failover.enabled = true;
  s.failover.triggers = {"silence"};
  s.outputs.push_back({"udp", "udp://239.2.2.2:6000"});
  json j = to_json(s);
  EXPECT_EQ(to_json(from_json(json::parse(j.dump()))), j);
  j["hls"]["window"] = "six";
  try {
    from_json(j);
    ADD_FAILURE() << "accepted a string window";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("hls.window"), std::string::npos) << e.what();
  }
}

// Low-latency parts over MPEG-TS (issue 16): part_seconds with segment_format ts reaches the
// worker (it used to be refused: "needs segment_format fmp4"); at or above the segment duration
// it is still refused, naming the field.
TEST(WireSpec, LowLatencyWithTsSegments) {
  WorkerSpec s;
  s.channel_id = "llts";
  s.sources.push_back({"primary", "test://smpte", "test", 1, 200, ""});
  s.profiles.push_back({"180p", "180p", 320, 180, 300, 25});
  s.hls.dir = "/var/hls/llts";
  s.hls.segment_seconds = 2;
  s.hls.segment_format = "ts";
  s.hls.part_seconds = 0.5;
  json j = to_json(s);
  WorkerSpec back = from_json(json::parse(j.dump()));
  EXPECT_EQ(back.hls.segment_format, "ts");
  EXPECT_DOUBLE_EQ(back.hls.part_seconds, 0.5);
  j["hls"]["part_seconds"] = 2.0;
  try {
    from_json(j);
    ADD_FAILURE() << "accepted part_seconds = segment_seconds";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("hls.part_seconds"), std::string::npos) << e.what();
  }
}

// Found by tests/fuzz (fuzz-wire, seed tests/data/fuzz/wire/regression-spec-float-int.json): an
// integer field given a float beyond int's range was converted (undefined behaviour), and a
// float, a bool or a too large integer was silently truncated instead of refused.
TEST(WireSpec, IntegerFieldsRefuseFloatsBoolsAndOutOfRange) {
  WorkerSpec s;
  s.channel_id = "news";
  s.sources.push_back({"primary", "udp://239.1.1.1:5000", "udp", 1, 200, ""});
  s.profiles.push_back({"360p", "360p-600kbps", 640, 360, 600, 25});
  s.hls.dir = "/var/hls/news";
  json good = to_json(s);
  for (json bad :
       {json(1.3e87), json(200.5), json(true), json(uint64_t(1) << 40), json(int64_t(-1) << 40)}) {
    json j = good;
    j["sources"][0]["latency_ms"] = bad;
    try {
      from_json(j);
      ADD_FAILURE() << "accepted latency_ms " << bad.dump();
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("sources[0].latency_ms"), std::string::npos) << e.what();
    }
  }
  json j = good;
  j["sources"][0]["latency_ms"] = -5;  // range checks beyond int's belong to the record loader
  EXPECT_EQ(from_json(j).sources[0].latency_ms, -5);
  j["heartbeat_ms"] = 2147483647;
  EXPECT_EQ(from_json(j).heartbeat_ms, 2147483647);
  j["hls"]["segment_seconds"] = 6;  // a double field takes an integer
  EXPECT_EQ(from_json(j).hls.segment_seconds, 6.0);
}
