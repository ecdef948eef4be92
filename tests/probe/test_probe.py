#!/usr/bin/env python3
"""iptvctl probe against real HLS over HTTP on 127.0.0.1 (the real binary, $IPTVCTL).

  test_probe.py broken   a live stream simulated from an ffmpeg-made segment pool, clean and
                         broken on purpose in each way the probe must find (one server each)
  test_probe.py ffmpeg   live HLS that ffmpeg -re writes (a third-party producer): clean
  test_probe.py hlssink  live HLS that our iptvabrladder ! iptvhlssink writes, served by our
                         origin (iptvctl serve): clean

The simulator serves a sliding window over the pool that advances one segment per segment
duration, as a live origin does, and can change what it serves between reloads (freeze, go back,
404, shift a rendition, lie in CODECS or the target duration).
"""
import concurrent.futures
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

IPTVCTL = os.environ.get("IPTVCTL", "")
PROBE_SECONDS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_probe(url, *extra, duration=PROBE_SECONDS):
    cmd = [IPTVCTL, "probe", url, "--duration", str(duration), "--format", "json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    try:
        report = json.loads(p.stdout)
    except json.JSONDecodeError:
        report = None
    return p.returncode, report, p.stdout + p.stderr


def all_findings(report):
    fs = list(report["stream"]["findings"])
    if "compare_stream" in report:
        fs += report["compare_stream"]["findings"]
    if "comparison" in report:
        fs += report["comparison"]["findings"]
    return fs


def error_rules(report):
    return sorted({f["rule"] for f in all_findings(report) if f["severity"] == "error"})


def make_pool(dest, seconds, seg, silent=False):
    """Two renditions (320x180, 160x90) + AAC, `seg`-second segments, one ffmpeg run (not
    real time): the material the simulator serves as if it were live."""
    os.makedirs(dest, exist_ok=True)
    audio = ("anullsrc=r=48000:cl=stereo" if silent else "sine=frequency=440:sample_rate=48000")
    fps = 25
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=%d" % fps,
           "-f", "lavfi", "-i", audio, "-t", str(seconds),
           "-filter_complex", "[0:v]split=2[a][b];[b]scale=160:90[bo]",
           "-map", "[a]", "-map", "[bo]", "-map", "1:a", "-map", "1:a",
           "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps * seg),
           "-keyint_min", str(fps * seg), "-sc_threshold", "0",
           "-b:v:0", "300k", "-b:v:1", "100k", "-c:a", "aac", "-b:a", "64k",
           "-f", "hls", "-hls_time", str(seg), "-hls_playlist_type", "vod",
           "-hls_segment_filename", dest + "/v%v/seg%d.ts", "-master_pl_name", "master.m3u8",
           "-var_stream_map", "v:0,a:0 v:1,a:1", dest + "/v%v/index.m3u8"]
    subprocess.run(cmd, check=True, timeout=120)
    pool = {"dir": dest, "seg": seg, "variants": []}
    master = open(dest + "/master.m3u8").read()
    for m in re.finditer(r"#EXT-X-STREAM-INF:(.*)\n(v\d)/index.m3u8", master):
        name = m.group(2)
        durations = [float(d) for d in
                     re.findall(r"#EXTINF:([\d.]+)", open("%s/%s/index.m3u8" % (dest, name)).read())]
        pool["variants"].append({"name": name, "attrs": m.group(1), "durations": durations})
    return pool


def make_group_vod(dest):
    """ffmpeg's audio-group layout: two video variants whose audio is an EXT-X-MEDIA rendition
    (ffmpeg also lists the audio playlist as an audio-only variant)."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
                    "-filter_complex", "[0:v]split=2[a][b];[b]scale=160:90[bo]",
                    "-map", "[a]", "-map", "[bo]", "-map", "1:a",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25",
                    "-sc_threshold", "0", "-b:v:0", "300k", "-b:v:1", "100k",
                    "-c:a", "aac", "-b:a", "64k", "-f", "hls", "-hls_time", "1",
                    "-hls_playlist_type", "vod", "-hls_segment_filename", dest + "/v%v/seg%d.ts",
                    "-master_pl_name", "master.m3u8",
                    "-var_stream_map", "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud",
                    dest + "/v%v/index.m3u8"], check=True, timeout=120)


def make_byterange_vod(dest):
    """One .ts file, segments as EXT-X-BYTERANGE sub-ranges (ffmpeg -hls_flags single_file)."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-sc_threshold", "0",
                    "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                    "-hls_flags", "single_file", dest + "/index.m3u8"], check=True, timeout=120)


class Live:
    """Serves a pool as a live stream. `mutate` maps a variant name ("v0", "v1") to what to
    break in it: freeze (stop advancing from its Nth playlist request on), back ((N, by): from
    its Nth playlist request on, list `by` segments earlier), delay (segments behind), missing
    (segment numbers answered 404), shift (serve segment n+shift for n), pool (another pool's
    files), codecs (CODECS in the multivariant). `target` overrides the target duration."""

    WINDOW = 4
    START = 8  # the head at t=0: far enough in that going back never hits the pool's start

    def __init__(self, pool, target=None, **mutate):
        self.pool = pool
        self.target = target or pool["seg"]
        self.mutate = mutate
        self.t0 = time.monotonic()
        self.requests = {}
        self.frozen = {}
        self.lock = threading.Lock()
        self.port = free_port()
        live = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status, body, ctype = live.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/master.m3u8" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def head(self, variant):
        """The newest segment index (exclusive) listed by this request."""
        m = self.mutate.get(variant, {})
        with self.lock:
            n = self.requests[variant] = self.requests.get(variant, 0) + 1
            k = int((time.monotonic() - self.t0) / self.pool["seg"]) + self.START
            k -= m.get("delay", 0)
            if "freeze" in m and n >= m["freeze"]:
                k = self.frozen.setdefault(variant, k)
            if "back" in m and n >= m["back"][0]:
                k -= m["back"][1]
        total = len(self.pool["variants"][0]["durations"])
        return max(self.WINDOW, min(k, total))

    def answer(self, path):
        path = path.split("?")[0]
        if path == "/master.m3u8":
            out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
            for v in self.pool["variants"]:
                attrs = v["attrs"]
                codecs = self.mutate.get(v["name"], {}).get("codecs")
                if codecs:
                    attrs = re.sub(r'CODECS="[^"]*"', 'CODECS="%s"' % codecs, attrs)
                out += "#EXT-X-STREAM-INF:%s\n%s/index.m3u8\n" % (attrs, v["name"])
            return 200, out.encode(), "application/vnd.apple.mpegurl"
        m = re.fullmatch(r"/(v\d)/index.m3u8", path)
        if m:
            name = m.group(1)
            v = next(x for x in self.pool["variants"] if x["name"] == name)
            k = self.head(name)
            first = k - self.WINDOW
            out = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n"
                   "#EXT-X-MEDIA-SEQUENCE:%d\n" % (self.target, first))
            for n in range(first, k):
                out += "#EXTINF:%.6f,\nseg%d.ts\n" % (v["durations"][n], n)
            return 200, out.encode(), "application/vnd.apple.mpegurl"
        m = re.fullmatch(r"/(v\d)/seg(\d+).ts", path)
        if m:
            name, n = m.group(1), int(m.group(2))
            mv = self.mutate.get(name, {})
            if n in mv.get("missing", ()):
                return 404, b"", "text/plain"
            pool_dir = mv.get("pool", self.pool)["dir"]
            f = "%s/%s/seg%d.ts" % (pool_dir, name, n + mv.get("shift", 0))
            if os.path.exists(f):
                return 200, open(f, "rb").read(), "video/mp2t"
        return 404, b"", "text/plain"


class StaticServer:
    """python3's own static file server over a directory, on a free port."""

    def __init__(self, root):
        self.port = free_port()
        handler = lambda *a, **kw: QuietStatic(*a, directory=root, **kw)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class QuietStatic(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def stop_process(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wait_for(paths, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(os.path.exists(p) for p in paths):
            return True
        time.sleep(0.1)
    return False


def check_clean(test, code, report, out):
    test.assertIsNotNone(report, out)
    test.assertEqual(error_rules(report), [], out)
    warnings = [f["rule"] for f in all_findings(report) if f["severity"] == "warning"]
    test.assertEqual(warnings, [], out)
    test.assertEqual(code, 0, out)
    rends = report["stream"]["renditions"]
    test.assertGreaterEqual(len(rends), 2, out)
    for r in rends:
        test.assertGreaterEqual(r["segments_fetched"], 3, out)
        test.assertGreaterEqual(r["reloads"], 3, out)
        test.assertEqual(r["segments_failed"], 0, out)
        test.assertTrue(r["codecs_measured"].startswith("avc1."), out)
    test.assertIsNotNone(report["stream"]["startup_ms"], out)


class Broken(unittest.TestCase):
    """One simulated live stream per case, all probed at the same time."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="probe-test-")
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            # Long enough that the head never reaches the end of a pool during the run.
            f1 = ex.submit(make_pool, cls.tmp + "/pool", 30, 1)
            f2 = ex.submit(make_pool, cls.tmp + "/silent", 30, 1, True)
            f3 = ex.submit(make_pool, cls.tmp + "/long", 50, 2)
            pool, silent, long_pool = f1.result(), f2.result(), f3.result()
        print("pools made in %.1f s" % (time.monotonic() - t0), file=sys.stderr)
        # Two broken things per stream, one per rendition (v0 is "180p", v1 "90p"), so that
        # each finding must also name the right rendition.
        cases = {
            "clean": Live(pool),
            "playlists": Live(pool, v0={"back": (4, 3)}, v1={"freeze": 3}),
            # Every third segment of v0 is missing, wherever a late start puts the window.
            "segments": Live(pool, v0={"missing": set(range(0, 60, 3))},
                             v1={"codecs": "avc1.4d401f,mp4a.40.2"}),
            "content": Live(pool, v0={"pool": silent}, v1={"shift": 1}),
            "target": Live(long_pool, target=1),
            "origin": Live(pool),
            "edge": Live(pool, v0={"delay": 3}, v1={"freeze": 2}),
        }
        cls.cases = cases
        # A third-party layout: audio in its own EXT-X-MEDIA group (VOD, read once).
        group = cls.tmp + "/group"
        make_group_vod(group)
        static = StaticServer(group)
        # Byte ranges: our origin answers 206; python's static server ignores Range (200).
        ranges = cls.tmp + "/ranges"
        make_byterange_vod(ranges)
        static_ranges = StaticServer(ranges)
        origin_port = free_port()
        origin = subprocess.Popen([IPTVCTL, "serve", "--channel", "br=" + ranges, "--port",
                                   str(origin_port)], stdout=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        cls.addClassCleanup(stop_process, origin)  # runs even when setUpClass fails
        # Playlist-only cases skip the segment inspection (--no-inspect) to spare the CPU.
        jobs = {name: (cases[name].url(),) for name in ("clean", "segments", "content")}
        jobs["playlists"] = (cases["playlists"].url(), "--no-inspect")
        jobs["target"] = (cases["target"].url(), "--no-inspect")
        jobs["clean-text"] = (cases["clean"].url(), "--format", "text", "--no-inspect")
        jobs["compare"] = (cases["origin"].url(), "--compare", cases["edge"].url())
        jobs["audio-group"] = ("http://127.0.0.1:%d/master.m3u8" % static.port,)
        jobs["ranges-origin"] = ("http://127.0.0.1:%d/hls/br/index.m3u8" % origin_port,)
        jobs["ranges-static"] = ("http://127.0.0.1:%d/index.m3u8" % static_ranges.port,)
        jobs["unreachable"] = ("http://127.0.0.1:%d/none.m3u8" % cases["clean"].port,)
        t0 = time.monotonic()
        # Five at a time: timing rules (staleness, pacing) want the CPU not to be starved.
        with concurrent.futures.ThreadPoolExecutor(5) as ex:
            futures = {name: ex.submit(run_probe, *args) for name, args in jobs.items()}
            cls.results = {name: f.result() for name, f in futures.items()}
        print("%d probes run in %.1f s" % (len(jobs), time.monotonic() - t0), file=sys.stderr)
        for s in cases.values():
            s.close()
        static.close()
        static_ranges.close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def expect(self, case, found, allowed=()):
        """`found`: {rule: rendition}; every one must be there, as an error on that rendition;
        other errors only from `allowed`."""
        code, report, out = self.results[case]
        self.assertIsNotNone(report, out)
        errors = [f for f in all_findings(report) if f["severity"] == "error"]
        for rule, rendition in found.items():
            self.assertIn((rule, rendition), [(f["rule"], f["rendition"]) for f in errors], out)
        self.assertEqual(code, 1, out)
        unexpected = {f["rule"] for f in errors} - set(found) - set(allowed)
        self.assertEqual(unexpected, set(), out)
        return report

    def first(self, report, rule):
        return next(f for f in all_findings(report) if f["rule"] == rule)

    def test_clean(self):
        code, report, out = self.results["clean"]
        check_clean(self, code, report, out)
        self.assertEqual([f["rule"] for f in all_findings(report)], [], out)

    def test_stale_playlist_and_sequence_going_backwards(self):
        report = self.expect("playlists", {"stale-playlist": "90p",
                                           "media-sequence-regressed": "180p"})
        v1 = next(r for r in report["stream"]["renditions"] if r["name"] == "90p")
        self.assertGreater(v1["max_stale_s"], 1.5)
        stale = [f for f in all_findings(report) if f["rule"] == "stale-playlist"]
        self.assertEqual({f["rendition"] for f in stale}, {"90p"})
        f = self.first(report, "media-sequence-regressed")
        self.assertEqual(f["line"], 4)  # the EXT-X-MEDIA-SEQUENCE line
        self.assertTrue(f["url"].endswith("/v0/index.m3u8"), f)

    def test_missing_segment_and_wrong_codecs(self):
        report = self.expect("segments", {"segment-missing": "180p", "codecs-mismatch": "90p"})
        f = self.first(report, "segment-missing")
        self.assertIn("HTTP 404", f["message"])
        self.assertIn("/v0/seg%d.ts" % f["sequence"], f["message"])
        self.assertEqual(f["sequence"] % 3, 0, f)
        f = self.first(report, "codecs-mismatch")
        self.assertIn("avc1.4d401f", f["message"])
        self.assertEqual(f["line"], 6)  # its EXT-X-STREAM-INF line in the multivariant

    def test_silent_audio_and_misaligned_renditions(self):
        report = self.expect("content", {"audio-silent": "180p"},
                             allowed={"renditions-misaligned"})
        f = self.first(report, "renditions-misaligned")
        self.assertIn("1.000", f["message"])
        self.assertEqual(f["severity"], "error")

    def test_target_duration_too_short(self):
        # Two-second segments under a one-second target: the playlist also changes less often
        # than 1.5 x the (wrong) target, which is stale by that target.
        self.expect("target", {"targetduration-exceeded": "180p"}, allowed={"stale-playlist"})

    def test_compare_lagging_and_stale_copy(self):
        code, report, out = self.results["compare"]
        self.assertIsNotNone(report, out)
        found = {(f["rule"], f["rendition"]) for f in report["comparison"]["findings"]}
        self.assertIn(("compare-lagging", "180p"), found, out)
        self.assertIn(("compare-stale-copy", "90p"), found, out)
        lag = next(f for f in report["comparison"]["findings"] if f["rule"] == "compare-lagging")
        self.assertTrue(lag["message"].startswith("B lags"), lag)
        r0, r1 = report["comparison"]["renditions"]
        # Three behind; at the last reloads it can read one more or less (reload phase).
        self.assertIn(r0["max_lag_segments"], (3, 4), out)
        self.assertIn(r0["lag_segments"], (2, 3, 4), out)
        self.assertGreater(r0["median_arrival_lag_s"], 1.5, out)
        self.assertTrue(r1["b_stale"] and not r1["a_stale"], out)
        self.assertEqual(code, 1, out)
        # Side A on its own is a clean stream.
        self.assertEqual([f for f in report["stream"]["findings"] if f["severity"] == "error"], [])

    def test_audio_group_vod_is_clean(self):
        code, report, out = self.results["audio-group"]
        self.assertIsNotNone(report, out)
        self.assertEqual(code, 0, out)
        self.assertEqual([f["rule"] for f in all_findings(report)], [], out)
        rends = {r["name"]: r for r in report["stream"]["renditions"]}
        self.assertEqual(set(rends), {"180p", "90p", "audio-v3"}, out)
        self.assertEqual(rends["180p"]["codecs_measured"], "avc1.42xx0d", out)  # video only
        self.assertEqual(rends["audio-v3"]["codecs_measured"], "mp4a.40.2", out)
        for r in rends.values():
            self.assertTrue(r["ended"], out)
            self.assertGreaterEqual(r["segments_fetched"], 4, out)

    def test_byteranges(self):
        code, report, out = self.results["ranges-origin"]
        self.assertEqual(code, 0, out)
        self.assertEqual([f["rule"] for f in all_findings(report)], [], out)
        main = report["stream"]["renditions"][0]
        self.assertEqual(main["segments_fetched"], 4, out)
        self.assertEqual(main["codecs_measured"][:5], "avc1.", out)
        code, report, out = self.results["ranges-static"]
        self.assertEqual(code, 0, out)
        self.assertEqual({f["rule"] for f in all_findings(report)}, {"byterange-not-honoured"}, out)

    def test_unreachable_is_exit_2(self):
        code, report, out = self.results["unreachable"]
        self.assertEqual(code, 2, out)
        self.assertFalse(report["probed"], out)
        self.assertIn("HTTP 404", report["fatal"])

    def test_human_output(self):
        # The clean stream again, as text: a table per rendition, then the findings.
        code, report, out = self.results["clean-text"]
        self.assertEqual(code, 0, out)
        self.assertIn("rendition  bandwidth  codecs (declared)", out)
        self.assertRegex(out, r"180p +400400 +avc1\.42c00d,mp4a\.40\.2 +- +1 s +\d+\.\.\d+")
        self.assertIn("0 error(s), 0 warning(s)", out)
        self.assertRegex(out, r"startup \d+ ms")


class FfmpegLive(unittest.TestCase):
    """HLS that ffmpeg writes in real time (-re), served by python's static server."""

    def test_ffmpeg_live_is_clean(self):
        tmp = tempfile.mkdtemp(prefix="probe-ffmpeg-")
        fps = 25
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
               "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=%d" % fps,
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
               "-t", str(PROBE_SECONDS + 12),
               "-filter_complex", "[0:v]split=2[a][b];[b]scale=160:90[bo]",
               "-map", "[a]", "-map", "[bo]", "-map", "1:a", "-map", "1:a",
               "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), "-keyint_min", str(fps),
               "-sc_threshold", "0", "-b:v:0", "300k", "-b:v:1", "100k",
               "-c:a", "aac", "-b:a", "64k",
               "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
               "-hls_flags", "delete_segments+temp_file+independent_segments",
               "-hls_segment_filename", tmp + "/v%v/seg%d.ts", "-master_pl_name", "master.m3u8",
               "-var_stream_map", "v:0,a:0 v:1,a:1", tmp + "/v%v/index.m3u8"]
        ff = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        server = None
        try:
            server = StaticServer(tmp)
            self.assertTrue(wait_for([tmp + "/master.m3u8", tmp + "/v0/index.m3u8",
                                      tmp + "/v1/index.m3u8"], 20))
            time.sleep(3)  # a few segments in the window
            code, report, out = run_probe("http://127.0.0.1:%d/master.m3u8" % server.port)
            self.assertIsNone(ff.poll(), "ffmpeg stopped before the probe ended")
            check_clean(self, code, report, out)
            print(out)
        finally:
            ff.send_signal(signal.SIGINT)
            try:
                ff.wait(timeout=20)
            except subprocess.TimeoutExpired:
                ff.kill()
                ff.wait()
            if server:
                server.close()
            shutil.rmtree(tmp, ignore_errors=True)


class HlsSink(unittest.TestCase):
    """Our own iptvabrladder ! iptvhlssink output, live, served by our own origin
    (iptvctl serve)."""

    def test_hlssink_live_is_clean(self):
        tmp = tempfile.mkdtemp(prefix="probe-hlssink-")
        d = tmp + "/ch"
        desc = ("videotestsrc pattern=ball is-live=true ! video/x-raw,width=320,height=180,"
                "framerate=25/1 ! iptvabrladder name=l profiles=320x180@300,160x90@120 "
                "preset=ultrafast keyframe-interval=1 "
                "audiotestsrc is-live=true samplesperbuffer=1024 ! audio/x-raw,rate=48000,"
                "channels=2 ! avenc_aac ! s.audio l.src_0 ! s.video_0 l.src_1 ! s.video_1 "
                "iptvhlssink name=s location=%s rendition-names=hi,lo target-duration=1 "
                "sequence-mode=counter" % d)
        os.makedirs(d, exist_ok=True)
        port = free_port()
        procs = []  # stopped in `finally` whatever fails after the first one started
        try:
            gst = subprocess.Popen(["gst-launch-1.0", "-q", "-e"] + desc.split(),
                                   stdin=subprocess.DEVNULL)
            procs.append(gst)
            procs.append(subprocess.Popen([IPTVCTL, "serve", "--channel", "demo=" + d, "--port",
                                           str(port)], stdout=subprocess.DEVNULL,
                                          stdin=subprocess.DEVNULL))
            self.assertTrue(wait_for([d + "/index.m3u8", d + "/hi/index.m3u8",
                                      d + "/lo/index.m3u8"], 30))
            time.sleep(3)
            url = "http://127.0.0.1:%d/hls/demo/index.m3u8" % port
            code, report, out = run_probe(url)
            self.assertIsNone(gst.poll(), "gst-launch-1.0 stopped before the probe ended")
            check_clean(self, code, report, out)
            print(out)
        finally:
            for p in procs:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if not IPTVCTL:
        print("IPTVCTL not set")
        sys.exit(77)
    which = sys.argv.pop(1) if len(sys.argv) > 1 else "broken"
    cls = {"broken": Broken, "ffmpeg": FfmpegLive, "hlssink": HlsSink}[which]
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
    ok = unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful()
    sys.exit(0 if ok else 1)
