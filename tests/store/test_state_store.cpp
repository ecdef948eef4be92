// StateStore: applied records, transitions with their events in one transaction, packaging state,
// idempotent events, paged queries, wait_after, retention, and state surviving a reopen.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <iostream>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/sqlite_db.h"
#include "store/state_store.h"
#include "test_support.h"

using iptv::store::Event;
using iptv::store::EventFilter;
using iptv::store::make_event;
using iptv::store::StateStore;

namespace {

struct Fixture {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/iptvd.db";
  std::unique_ptr<iptv::db::Db> db = iptv::db::Db::open(path);
  std::unique_ptr<StateStore> store = std::make_unique<StateStore>(*db);

  void reopen() {
    store.reset();
    db.reset();
    db = iptv::db::Db::open(path);
    store = std::make_unique<StateStore>(*db);
  }
};

}  // namespace

TEST(StateStore, AppliedRecordUpsertsAndRecordsItsEvent) {
  Fixture f;
  EXPECT_FALSE(f.store->applied("news"));
  f.store->set_applied("news", "aa11", "channel_id: news\n", "active",
                       make_event("channel.applied", ""));
  f.store->set_applied("news", "bb22", "channel_id: news\nname: News\n", "disabled");
  auto a = f.store->applied("news");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sha256, "bb22");
  EXPECT_EQ(a->yaml, "channel_id: news\nname: News\n");
  EXPECT_EQ(a->status, "disabled");
  EXPECT_GT(a->applied_at, 0);
  EXPECT_EQ(f.store->applied_all().size(), 1u);
  auto ev = f.store->events({});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].event_type, "channel.applied");
  EXPECT_EQ(ev[0].channel_id, "news");
  EXPECT_EQ(ev[0].input_checksum, "aa11");
}

TEST(StateStore, TransitionsWriteStateHistoryAndEventTogether) {
  Fixture f;
  EXPECT_FALSE(f.store->state("news"));
  auto r1 = f.store->transition("news", "starting", "worker spawned",
                                make_event("channel.state", "ignored"));
  EXPECT_TRUE(r1.changed);
  EXPECT_GT(r1.event_id, 0);
  // Same state again: nothing written, not even the event.
  auto r2 = f.store->transition("news", "starting", "again", make_event("channel.state", ""));
  EXPECT_FALSE(r2.changed);
  EXPECT_EQ(r2.event_id, 0);
  f.store->transition("news", "live", "first segment");
  Event fe = make_event("failover.activated", "", "success", R"({"source":"backup"})");
  fe.attempt = 1;
  f.store->transition("news", "failover", "primary lost", fe);
  f.store->transition("news", "live", "primary back");
  f.store->transition("news", "failover", "primary lost again");
  f.store->count_restart("news");

  auto st = f.store->state("news");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, "failover");
  EXPECT_EQ(st->reason, "primary lost again");
  EXPECT_EQ(st->failovers, 2);
  EXPECT_EQ(st->restarts, 1);

  auto tr = f.store->transitions("news", 10);
  ASSERT_EQ(tr.size(), 5u);
  EXPECT_EQ(tr[0].to, "failover");  // newest first
  EXPECT_EQ(tr[4].from, "offline");
  EXPECT_EQ(tr[4].to, "starting");
  EXPECT_EQ(tr[1].from, "failover");
  EXPECT_EQ(tr[1].to, "live");
  EXPECT_EQ(f.store->transitions("", 2).size(), 2u);

  auto ev = f.store->events({});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].channel_id, "news");  // forced to the transition's channel
  auto d = nlohmann::json::parse(ev[1].detail);
  EXPECT_EQ(d["from"], "live");
  EXPECT_EQ(d["to"], "failover");
  EXPECT_EQ(d["reason"], "primary lost");
  EXPECT_EQ(d["source"], "backup");
  EXPECT_EQ(ev[1].attempt, 1);
  EXPECT_EQ(ev[1].status, "success");
}

TEST(StateStore, ABadEventRollsBackTheTransition) {
  Fixture f;
  f.store->transition("news", "live", "ok");
  // An invalid detail makes the event insert throw: the transition must not be stored either.
  EXPECT_THROW(f.store->transition("news", "slate", "no source",
                                   make_event("slate.entered", "", "info", "[not an object")),
               std::invalid_argument);
  EXPECT_EQ(f.store->state("news")->state, "live");
  EXPECT_EQ(f.store->transitions("news").size(), 1u);
  EXPECT_TRUE(f.store->events({}).empty());
}

TEST(StateStore, EventsAreIdempotentByEventId) {
  Fixture f;
  Event e = make_event("record.rejected", "news", "failure", R"({"error":"x"})");
  e.event_id = "reject:news:sha-1";
  bool inserted = false;
  int64_t id1 = f.store->record_event(e, &inserted);
  EXPECT_TRUE(inserted);
  e.detail = R"({"error":"different"})";
  int64_t id2 = f.store->record_event(e, &inserted);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(id1, id2);
  auto all = f.store->events({});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(all[0].detail)["error"], "x");
  // Generated ids are uuids and unique.
  Event a = make_event("x.y", "news"), b = make_event("x.y", "news");
  f.store->record_event(a);
  f.store->record_event(b);
  all = f.store->events({});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].event_id.size(), 36u);
  EXPECT_NE(all[1].event_id, all[2].event_id);
  EXPECT_THROW(f.store->record_event(make_event("", "news")), std::invalid_argument);
}

TEST(StateStore, EventJsonHasTheArticleFields) {
  Fixture f;
  Event e = make_event("transcode.completed", "local-news-hd", "success", R"({"k":1})");
  e.job_id = "job_7f3a";
  e.profile = "720p-3mbps";
  e.input_checksum = "91bd";
  e.output_uri = "origin/live/local-news/720p/index.m3u8";
  e.attempt = 2;
  e.created_at = 1764441000123;
  f.store->record_event(e);
  auto got = f.store->events({});
  ASSERT_EQ(got.size(), 1u);
  auto j = nlohmann::json::parse(got[0].to_json());
  EXPECT_EQ(j["event_type"], "transcode.completed");
  EXPECT_EQ(j["job_id"], "job_7f3a");
  EXPECT_EQ(j["channel_id"], "local-news-hd");
  EXPECT_EQ(j["profile"], "720p-3mbps");
  EXPECT_EQ(j["input_checksum"], "91bd");
  EXPECT_EQ(j["output_uri"], "origin/live/local-news/720p/index.m3u8");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["detail"]["k"], 1);
  EXPECT_EQ(j["created_at"], "2025-11-29T18:30:00.123Z");
  EXPECT_EQ(j["event_id"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["id"], got[0].id);
}

TEST(StateStore, PagedAndFilteredQueries) {
  Fixture f;
  for (int i = 0; i < 25; ++i) {
    std::string ch = i % 2 ? "a" : "b";
    std::string type =
        i % 3 == 0 ? "failover.activated" : (i % 3 == 1 ? "failover.returned" : "channel.state");
    f.store->record_event(make_event(type, ch));
  }
  // Paging forward with after_id visits every event once, in order.
  int64_t after = 0;
  std::vector<int64_t> seen;
  for (;;) {
    EventFilter q;
    q.after_id = after;
    q.limit = 7;
    auto page = f.store->events(q);
    if (page.empty()) break;
    for (auto &e : page) seen.push_back(e.id);
    after = page.back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(f.store->last_event_id(), seen.back());

  EventFilter byc;
  byc.channel_id = "a";
  byc.limit = 1000;
  EXPECT_EQ(f.store->events(byc).size(), 12u);
  EventFilter prefix;
  prefix.event_type = "failover.*";
  prefix.limit = 1000;
  EXPECT_EQ(f.store->events(prefix).size(), 17u);
  EventFilter exact;
  exact.event_type = "channel.state";
  exact.channel_id = "b";
  exact.limit = 1000;
  for (auto &e : f.store->events(exact)) {
    EXPECT_EQ(e.event_type, "channel.state");
    EXPECT_EQ(e.channel_id, "b");
  }
  EXPECT_EQ(f.store->events(exact).size(), 4u);  // i = 2, 8, 14, 20
  EventFilter newest;
  newest.newest_first = true;
  newest.limit = 3;
  auto n = f.store->events(newest);
  ASSERT_EQ(n.size(), 3u);
  EXPECT_EQ(n[0].id, seen.back());
  EventFilter before = newest;
  before.before_id = n[2].id;
  EXPECT_EQ(f.store->events(before)[0].id, n[2].id - 1);
}

TEST(StateStore, WaitAfterWakesOnANewEventAndTimesOut) {
  Fixture f;
  int64_t last = f.store->last_event_id();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(f.store->wait_after(last, std::chrono::milliseconds(150)).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(140));

  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    f.store->record_event(make_event("other.thing", "x"));  // filtered out
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    f.store->transition("news", "live", "up", make_event("channel.state", "news"));
  });
  EventFilter flt;
  flt.channel_id = "news";
  t0 = std::chrono::steady_clock::now();
  auto got = f.store->wait_after(last, std::chrono::seconds(10), flt);
  auto waited = std::chrono::steady_clock::now() - t0;
  producer.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].event_type, "channel.state");
  EXPECT_LT(waited, std::chrono::seconds(5));

  // wake_all releases a waiter with nothing to report.
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    f.store->wake_all();
  });
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(f.store->wait_after(f.store->last_event_id(), std::chrono::seconds(10)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  waker.join();
}

// iptvd stores its workers' segment reports once a second in one transaction (issue 23): a batch
// of several channels, with a late report in it, ends as the same reports one by one would.
TEST(StateStore, ABatchOfSegmentsIsStoredAsEachOneWouldBe) {
  Fixture f;
  std::vector<std::pair<std::string, iptv::store::SegmentReport>> batch;
  for (int ch = 0; ch < 50; ++ch)
    for (uint64_t seq = 10; seq < 12; ++seq)
      batch.push_back({"c" + std::to_string(ch),
                       {"source", seq, 1, 2.0, 1000, "source/seg-" + std::to_string(seq) + ".ts"}});
  batch.push_back({"c7", {"source", 9, 0, 2.0, 500, "source/seg-9.ts"}});  // late
  f.store->record_segments(batch);
  f.store->record_segments({});  // nothing to do
  f.reopen();
  for (int ch = 0; ch < 50; ++ch) {
    auto p = f.store->packaging("c" + std::to_string(ch), "source");
    ASSERT_TRUE(p) << ch;
    EXPECT_EQ(p->media_sequence, 11);
    EXPECT_EQ(p->last_segment_uri, "source/seg-11.ts");
    EXPECT_EQ(p->discontinuity_sequence, 1);
    EXPECT_EQ(p->segments, ch == 7 ? 3 : 2);
    EXPECT_EQ(p->bytes, ch == 7 ? 2500 : 2000);
  }
}

TEST(StateStore, PackagingStateMovesForwardAndSurvivesReopen) {
  Fixture f;
  iptv::store::SegmentReport s{"360p", 100, 2, 2.0, 50000, "360p/seg-100.ts"};
  f.store->record_segment("news", s);
  s.sequence = 101;
  s.uri = "360p/seg-101.ts";
  s.duration = 1.96;
  f.store->record_segment("news", s, make_event("segment.written", ""));
  // A late report of an older segment counts but does not move the sequence back.
  iptv::store::SegmentReport old{"360p", 99, 1, 2.0, 1000, "360p/seg-99.ts"};
  f.store->record_segment("news", old);
  f.store->record_segment("news", {"720p", 101, 2, 2.0, 90000, "720p/seg-101.ts"});
  f.store->transition("news", "live", "up");

  f.reopen();  // as after SIGKILL of iptvd: everything committed is back
  auto p = f.store->packaging("news", "360p");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->media_sequence, 101);
  EXPECT_EQ(p->discontinuity_sequence, 2);
  EXPECT_EQ(p->last_segment_uri, "360p/seg-101.ts");
  EXPECT_DOUBLE_EQ(p->last_segment_duration, 1.96);
  EXPECT_EQ(p->segments, 3);
  EXPECT_EQ(p->bytes, 101000);
  EXPECT_GT(p->last_segment_at, 0);
  EXPECT_EQ(f.store->packaging_all("news").size(), 2u);
  EXPECT_EQ(f.store->state("news")->state, "live");
  auto ev = f.store->events({});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].profile, "360p");
  EXPECT_EQ(ev[0].output_uri, "360p/seg-101.ts");
  f.store->reset_packaging("news");
  EXPECT_FALSE(f.store->packaging("news", "360p"));
}

TEST(StateStore, PruneDeletesOnlyOldDeliveredEvents) {
  Fixture f;
  f.store->sync_webhooks({"hook"});
  int64_t day = 86400LL * 1000;
  int64_t now = iptv::store::now_ms();
  for (int i = 0; i < 4; ++i) {
    Event e = make_event("old.event", "news");
    e.created_at = now - 40 * day;
    f.store->record_event(e);
  }
  Event fresh = make_event("new.event", "news");
  f.store->record_event(fresh);
  EXPECT_EQ(f.store->enqueue_deliveries("hook", {}), 5);
  auto due = f.store->due_deliveries("hook", now + 1);
  ASSERT_EQ(due.size(), 5u);
  f.store->mark_delivered("hook", due[0].event.id, 200);
  f.store->mark_delivered("hook", due[1].event.id, 200);
  f.store->mark_failed("hook", due[2].event.id, "HTTP 500", 500, now + 1000, true);  // dead
  // due[3] stays pending.
  EXPECT_EQ(f.store->prune(30, now), 2);
  auto left = f.store->events({});
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].id, due[2].event.id);
  auto c = f.store->delivery_counts("hook");
  EXPECT_EQ(c.pending, 2);
  EXPECT_EQ(c.dead, 1);
  EXPECT_EQ(c.delivered, 0);  // cascaded with their events

  // Events a webhook has not scanned yet are kept too.
  Event old2 = make_event("old.event", "news");
  old2.created_at = now - 40 * day;
  f.store->record_event(old2);
  EXPECT_EQ(f.store->prune(30, now), 0);
  EXPECT_EQ(f.store->prune(0, now), 0);  // disabled
}

TEST(StateStore, WebhookCursorsStartAtRegistrationAndFilter) {
  Fixture f;
  f.store->record_event(make_event("before.hook", "news"));
  f.store->sync_webhooks({"a", "b"});
  f.store->record_event(make_event("failover.activated", "news"));
  f.store->record_event(make_event("channel.state", "news"));
  EXPECT_EQ(f.store->unscanned_events("a"), 2);
  EXPECT_EQ(f.store->enqueue_deliveries("a", {"failover.*"}), 1);
  EXPECT_EQ(f.store->unscanned_events("a"), 0);
  EXPECT_EQ(f.store->enqueue_deliveries("a", {"failover.*"}), 0);
  EXPECT_EQ(f.store->enqueue_deliveries("b", {}), 2);
  auto due = f.store->due_deliveries("a", iptv::store::now_ms() + 1);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event.event_type, "failover.activated");
  EXPECT_EQ(due[0].attempts, 0);
  f.store->mark_failed("a", due[0].event.id, "HTTP 503", 503, iptv::store::now_ms() + 60000, false);
  EXPECT_TRUE(f.store->due_deliveries("a", iptv::store::now_ms()).empty());
  ASSERT_TRUE(f.store->next_due("a"));
  f.store->mark_failed("a", due[0].event.id, "HTTP 503", 503, 0, true);
  EXPECT_EQ(f.store->delivery_counts("a").dead, 1);
  EXPECT_EQ(f.store->requeue_dead("a"), 1);
  EXPECT_EQ(f.store->delivery_counts("a").pending, 1);
  // A new webhook can start earlier (the daemon's start-up events): here, from the beginning.
  f.store->sync_webhooks({"a", "b", "c"}, 0);
  EXPECT_EQ(f.store->unscanned_events("c"), 3);
  EXPECT_EQ(f.store->unscanned_events("a"), 0);  // known names keep their cursor
  // Dropping a webhook drops its deliveries.
  f.store->sync_webhooks({"a"});
  EXPECT_EQ(f.store->delivery_counts("b").pending, 0);
  EXPECT_THROW(f.store->enqueue_deliveries("b", {}), iptv::db::Error);
}

TEST(StateStore, ConcurrentWritersKeepEveryEvent) {
  Fixture f;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string ch = "ch" + std::to_string(t);
        f.store->transition(ch, i % 2 ? "live" : "degraded", "flap",
                            make_event("channel.state", ch));
        f.store->record_segment(ch, {"360p", uint64_t(i), 0, 2.0, 10, "360p/seg.ts"});
      }
    });
  for (auto &t : ts) t.join();
  EventFilter q;
  q.limit = 1000;
  EXPECT_EQ(f.store->events(q).size(), 200u);
  for (int t = 0; t < 4; ++t) {
    auto p = f.store->packaging("ch" + std::to_string(t), "360p");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->media_sequence, 49);
    EXPECT_EQ(p->segments, 50);
  }
}

// The outbox under SIGKILL: a process writing transitions with their events is killed at a
// random point; after reopening, every stored transition has its event and vice versa.
TEST(StateStore, SigkillNeverSeparatesAChangeFromItsEvent) {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/iptvd.db";
  {
    auto db = iptv::db::Db::open(path);  // create the schema before forking
    StateStore s(*db);
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto db = iptv::db::Db::open(path);
    StateStore s(*db);
    for (int i = 0;; ++i) {
      s.transition("news", i % 2 ? "live" : "failover", "flip " + std::to_string(i),
                   make_event("channel.state", "news"));
      s.record_segment("news", {"360p", uint64_t(i), 0, 2.0, 100, "360p/seg.ts"},
                       make_event("segment.written", "news"));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  auto db = iptv::db::Db::open(path);
  StateStore s(*db);
  auto count = [&](const std::string &sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.col_int64(0);
  };
  int64_t transitions = count("SELECT COUNT(*) FROM st_transitions");
  ASSERT_GT(transitions, 5) << "the writer made too little progress to test anything";
  std::cerr << "transitions written before SIGKILL: " << transitions << "\n";
  EXPECT_EQ(count("SELECT COUNT(*) FROM st_events WHERE event_type='channel.state'"), transitions);
  // Each transition has the event that reports it (same reason and target state).
  EXPECT_EQ(count("SELECT COUNT(*) FROM st_transitions t WHERE NOT EXISTS (SELECT 1 FROM"
                  " st_events e WHERE e.event_type='channel.state'"
                  " AND json_extract(e.detail,'$.reason') = t.reason"
                  " AND json_extract(e.detail,'$.to') = t.to_state)"),
            0);
  auto p = s.packaging("news", "360p");
  ASSERT_TRUE(p);
  EXPECT_EQ(count("SELECT COUNT(*) FROM st_events WHERE event_type='segment.written'"),
            p->segments);
  auto tr = s.transitions("news", 1);
  EXPECT_EQ(s.state("news")->state, tr[0].to);
}

TEST(StateStore, ChannelReportGathersStateHistoryPackagingAndEvents) {
  Fixture f;
  f.store->set_applied("news", "abc", "channel_id: news\n", "active",
                       make_event(iptv::store::events::kChannelApplied, "news"));
  f.store->transition("news", "starting", "spawned");
  f.store->transition("news", "live", "first segment",
                      make_event(iptv::store::events::kChannelState, "news"));
  f.store->record_segment("news", {"360p", 7, 0, 2.0, 1000, "360p/seg-7.ts"});
  f.store->record_event(make_event(iptv::store::events::kIncidentNote, "news", "info",
                                   R"({"note":"upstream encoder rebooted","author":"ops"})"));
  f.store->record_event(make_event("channel.state", "sport"));
  auto r = f.store->report("news", 10, 10);
  EXPECT_EQ(r.channel_id, "news");
  ASSERT_TRUE(r.state);
  EXPECT_EQ(r.state->state, "live");
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(r.applied->sha256, "abc");
  ASSERT_EQ(r.transitions.size(), 2u);
  EXPECT_EQ(r.transitions[0].to, "live");
  ASSERT_EQ(r.packaging.size(), 1u);
  EXPECT_EQ(r.packaging[0].media_sequence, 7);
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].event_type, "incident.note");
  EXPECT_EQ(r.events[2].event_type, "channel.applied");
  auto none = f.store->report("nope");
  EXPECT_FALSE(none.state);
  EXPECT_TRUE(none.events.empty());
}
