#!/usr/bin/env python3
"""Runs every documented gst-launch-1.0 line and checks it produces what it promises.

Lines come from README.md, docs/*.md, pipelines/*.md (fenced code blocks, backslash continuations
joined) and the elements' documentation blocks (the |[ ... ]| examples of the SECTION comments in
plugins/iptv/*.cpp, which gst-inspect shows). Each line runs as written, with only:
  - bounding: a live line gets `-e` and a SIGINT after its run time (EOS, so files are finished);
  - stand-ins (pipelines/README.md, "Stand-ins the test uses"): v4l2src, and a local sender for
    udpsrc/srtsrc inputs; free ports for fixed ones; output folders under a temporary folder;
    a generated file for a missing filesrc input.
Checks: every iptvhlssink writes a multivariant playlist listing each rendition, each media
playlist has segments and ffprobe decodes video from it; every filesink file has video frames
(ffprobe); lines that only print messages (-m) show the messages listed in EXPECT below. Every
line must exit 0 with no WARNING/ERROR, unless EXPECT says otherwise. A line with no known
output fails the test (add it to EXPECT), a line needing hardware is skipped with the reason.

Usage: documented_pipelines.py SOURCE_ROOT [--list]
"""
import concurrent.futures
import glob
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# Lines that only print messages (or only check a clean run): a distinctive substring of the
# line -> what to expect. run: seconds before SIGINT (live lines); feed: seconds the stand-in
# sender runs (default: the whole run); messages: element message names that must appear.
EXPECT = [
    # docs/iptvgapprobe.md: the camera stand-in is black.
    {"key": "v4l2src ! videoconvert ! iptvgapprobe", "run": 8, "messages": ["iptvgapprobe-black"]},
    # docs/iptvgapprobe.md: the udp stand-in sends one keyframe per 10 s.
    {"key": "tsdemux ! h264parse ! iptvgapprobe keyframe-gap-threshold=6", "run": 9,
     "messages": ["iptvgapprobe-keyframe-gap"]},
    # gst-inspect iptvgapprobe: a static pattern, silence, a sender that stops.
    {"key": "pattern=checkers-8 ! iptvgapprobe freeze-seconds=2", "run": 4, "messages": ["iptvgapprobe-freeze"]},
    {"key": "wave=silence ! iptvgapprobe silence-seconds=3", "run": 5,
     "messages": ["iptvgapprobe-silence"]},
    {"key": "iptvgapprobe gap-threshold=1 keyframe-gap-threshold=6", "run": 6, "feed": 3,
     "messages": ["iptvgapprobe-gap"]},
    # gst-inspect iptvabrladder: a file through both rungs to the end, nothing dropped.
    {"key": "filesrc location=in.mp4 ! decodebin3", "clean": True},
    # docs/iptvabrladder.md, gst-inspect iptvabrladder: a live ladder with its third rung paused
    # (fakesinks: a run that exits 0 with no warning is what it shows).
    {"key": "disabled-rungs=src_2", "run": 5},
]

HARDWARE = re.compile(r"\b(vaapi\w*|va\w*h26[45]enc|nv\w*enc|qsv\w*|encoder=(vaapi|nvenc))\b")
LIVE_SOURCES = ("is-live=true", "udpsrc", "srtsrc", "v4l2src")
DEFAULT_RUN = 10  # seconds for live lines


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_continuations(lines):
    out, cur = [], ""
    for raw in lines:
        line = raw.rstrip()
        if line.endswith("\\"):
            cur += line[:-1].rstrip() + " "
            continue
        cur += line
        out.append(" ".join(cur.split()))
        cur = ""
    if cur.strip():
        out.append(" ".join(cur.split()))
    return out


def launch_lines(logical):
    """gst-launch-1.0 commands among logical lines (env assignments allowed, comments cut)."""
    out = []
    for line in logical:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]
        if words and words[0] == "gst-launch-1.0":
            out.append(words)
    return out


def extract_markdown(path):
    """(line words, origin) for each gst-launch line in fenced code blocks; stand-in blocks apart."""
    lines, standins, block, start = [], {}, None, 0
    with open(path, encoding="utf-8") as f:
        text = f.read().splitlines()
    for n, raw in enumerate(text, 1):
        if raw.strip().startswith("```"):
            if block is None:
                block, start = [], n
                continue
            m = re.match(r"#\s*stand-in:\s*(\S+)", block[0].strip()) if block else None
            if m:
                body = join_continuations(block[1:])
                standins[m.group(1)] = " ".join(body)
            else:
                for words in launch_lines(join_continuations(block)):
                    lines.append((words, f"{path}:{start}"))
            block = None
            continue
        if block is not None:
            block.append(raw)
    return lines, standins


def extract_section_blocks(path):
    out = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in re.finditer(r"/\*\*(.*?)\*/", text, re.S):
        if "SECTION:element-" not in m.group(1):
            continue
        for ex in re.finditer(r"\|\[(.*?)\]\|", m.group(1), re.S):
            body = [re.sub(r"^\s*\* ?", "", l) for l in ex.group(1).splitlines()]
            line_no = text[: m.start(1) + ex.start(1)].count("\n") + 1
            for words in launch_lines(join_continuations(body)):
                out.append((words, f"{path}:{line_no}"))
    return out


def collect(root):
    lines, standins = [], {}
    mds = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    mds += sorted(glob.glob(os.path.join(root, "pipelines", "*.md")))
    for md in mds:
        l, s = extract_markdown(md)
        lines += l
        standins.update(s)
    for cpp in sorted(glob.glob(os.path.join(root, "plugins", "iptv", "*.cpp"))):
        lines += extract_section_blocks(cpp)
    return lines, standins


def prop(words, name):
    for w in words:
        if w.startswith(name + "="):
            return w.split("=", 1)[1]
    return None


class Run:
    def __init__(self, words, origin, standins, workdir, ffprobe_lock):
        self.words, self.origin, self.standins = list(words), origin, standins
        self.dir = workdir
        self.text = " ".join(words)
        self.expect = next((e for e in EXPECT if e["key"] in self.text), None)
        self.problems, self.notes = [], []
        self.feeders = []
        self.outputs_hls, self.outputs_files = [], []
        self.ffprobe_lock = ffprobe_lock

    # ---- rewriting ----
    def rewrite(self):
        w = self.words
        out_dir = os.path.join(self.dir, "out")
        os.makedirs(out_dir, exist_ok=True)
        i = 0
        while i < len(w):
            tok = w[i]
            if tok == "v4l2src":
                w[i : i + 1] = self.standins["v4l2src"].split()
                continue
            if tok in ("udpsrc", "srtsrc"):
                j = i + 1
                while j < len(w) and "=" in w[j] and w[j] != "!":
                    j += 1
                props = w[i + 1 : j]
                if tok == "srtsrc":
                    port = free_port(socket.SOCK_DGRAM)
                    for k, p in enumerate(props):
                        if p.startswith("uri="):
                            props[k] = re.sub(r":\d+", f":{port}", p, count=1)
                    self.add_feeder("srt", port)
                else:
                    port = free_port(socket.SOCK_DGRAM)
                    address = next((p.split("=", 1)[1] for p in props if p.startswith("address=")), None)
                    for k, p in enumerate(props):
                        if p.startswith("port="):
                            props[k] = f"port={port}"
                    self.add_feeder("multicast" if address and address.startswith("2") else "udp", port)
                w[i + 1 : j] = props
            elif tok.startswith("http-port=") and tok != "http-port=0" and tok != "http-port=-1":
                w[i] = f"http-port={free_port()}"
            elif tok.startswith("token-key-file="):
                key = os.path.join(self.dir, "keys")
                with open(key, "w") as f:
                    f.write("k1 " + "ab" * 32 + "\n")
                w[i] = f"token-key-file={key}"
            elif tok.startswith("location=") and i > 0:
                loc = tok.split("=", 1)[1]
                elem = self.element_of(i)
                if elem == "filesrc":
                    path = loc if os.path.isabs(loc) else os.path.join(self.dir, loc)
                    if not os.path.exists(path):
                        path = os.path.join(self.dir, loc.lstrip("/"))
                        self.make_input(path)
                    w[i] = f"location={path}"
                else:
                    path = os.path.join(out_dir, loc.lstrip("/")) if os.path.isabs(loc) else os.path.join(self.dir, loc)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    w[i] = f"location={path}"
                    if elem == "iptvhlssink":
                        self.outputs_hls.append((path, i))
                    elif elem == "filesink":
                        self.outputs_files.append(path)
            i += 1

    def element_of(self, i):
        """The element whose property sits at word i."""
        j = i
        while j > 0 and "=" in self.words[j] and self.words[j] != "!":
            j -= 1
        return self.words[j]

    def make_input(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cmd = ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=60", "pattern=ball", "!",
               "video/x-raw,width=1920,height=1080,framerate=30/1", "!", "x264enc",
               "speed-preset=ultrafast", "!", "h264parse", "!", "mp4mux", "!", "filesink",
               f"location={path}"]
        subprocess.run(cmd, check=True, timeout=120, stdout=subprocess.DEVNULL)
        self.notes.append(f"stand-in input {path}")

    def add_feeder(self, name, port):
        text = self.standins.get(name)
        if not text:
            self.problems.append(f"no stand-in '{name}' documented in pipelines/README.md")
            return
        words = shlex.split(text)
        for k, t in enumerate(words):
            if t.startswith("port="):
                words[k] = f"port={port}"
            elif t.startswith("uri=srt://"):
                words[k] = re.sub(r":\d+", f":{port}", t)
        self.feeders.append(words)

    # ---- running ----
    def run(self):
        if HARDWARE.search(self.text):
            return "skip", "needs a hardware encoder (VA-API/NVENC), absent on this machine"
        try:
            self.rewrite()
        except Exception as e:  # a stand-in could not be made
            self.problems.append(f"stand-in: {e}")
            return "fail", "\n".join(self.problems)
        live = any(s in self.text for s in LIVE_SOURCES)
        expect = self.expect or {}
        run_s = expect.get("run", DEFAULT_RUN)
        if not (self.outputs_hls or self.outputs_files or expect):
            self.problems.append("no output this test knows how to check (add the line to EXPECT "
                                 "in tests/plugin/documented_pipelines.py)")
            return "fail", "\n".join(self.problems)
        if self.problems:
            return "fail", "\n".join(self.problems)
        cmd = list(self.words)
        if live and "-e" not in cmd:
            cmd.insert(1, "-e")
        proc = subprocess.Popen(cmd, cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        feeders = []
        time.sleep(0.5 if self.feeders else 0)
        for f in self.feeders:
            feeders.append(subprocess.Popen(f, cwd=self.dir, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True))
        feed_s = expect.get("feed")
        out = ""
        try:
            if live:
                t0 = time.monotonic()
                while time.monotonic() - t0 < run_s and proc.poll() is None:
                    if feed_s is not None and time.monotonic() - t0 > feed_s:
                        for f in feeders:
                            if f.poll() is None:
                                f.send_signal(signal.SIGKILL)
                    time.sleep(0.1)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            self.problems.append("did not finish (EOS) in time")
        finally:
            for f in feeders:
                if f.poll() is None:
                    f.kill()
                f.wait()
        self.check(proc.returncode, out or "", expect)
        log = f"$ {' '.join(shlex.quote(c) for c in cmd)}\n" + (out or "")[-3000:]
        if self.problems:
            return "fail", "\n".join(self.problems) + "\n" + log
        return "ok", "; ".join(self.notes)

    # ---- checks ----
    def check(self, rc, out, expect):
        if rc != 0:
            self.problems.append(f"exit status {rc}")
        for bad in ("WARNING:", "ERROR:"):
            if bad in out:
                self.problems.append(f"{bad} in the output")
        for m in expect.get("messages", []):
            if f"(element): {m}," not in out and f"(element): {m};" not in out:
                self.problems.append(f"no {m} message")
        if expect.get("clean") and "Got EOS from element" not in out:
            self.problems.append("no EOS")
        for path, i in self.outputs_hls:
            self.check_hls(path, i)
        for path in self.outputs_files:
            frames = self.ffprobe_frames(path)
            if frames <= 0:
                self.problems.append(f"{path}: no video frames")
            else:
                self.notes.append(f"{os.path.basename(path)}: {frames} frames")

    def check_hls(self, path, i):
        names = None
        j = i
        while j > 0 and self.words[j - 1] != "!":
            j -= 1
        for t in self.words[j:]:
            if t.startswith("rendition-names="):
                names = t.split("=", 1)[1].split(",")
            if t == "!":
                break
        master = os.path.join(path, "index.m3u8")
        if not os.path.exists(master):
            self.problems.append(f"no multivariant playlist {master}")
            return
        text = open(master).read()
        variants = text.count("#EXT-X-STREAM-INF")
        if names and variants != len(names):
            self.problems.append(f"{master}: {variants} variants, want {len(names)}")
        for name in names or []:
            media = os.path.join(path, name, "index.m3u8")
            if not os.path.exists(media):
                self.problems.append(f"no media playlist {media}")
                continue
            # A live playlist has no ENDLIST (ffprobe would wait for more): probe its segments.
            segs = [l.strip() for l in open(media) if l.strip() and not l.startswith("#")]
            if not segs:
                self.problems.append(f"{media}: no segments")
                continue
            # fMP4 (segment-format=fmp4): a segment decodes behind its init segment (EXT-X-MAP).
            maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', open(media).read())
            frames = 0
            for seg in segs:
                seg_path = os.path.join(path, name, seg)
                if maps:
                    joined = os.path.join(path, name, ".probe-" + seg + ".mp4")
                    with open(joined, "wb") as out:
                        for part in (os.path.join(path, name, maps[0]), seg_path):
                            with open(part, "rb") as f:
                                out.write(f.read())
                    seg_path = joined
                n = self.ffprobe_frames(seg_path)
                if n <= 0:
                    self.problems.append(f"{media}: ffprobe decodes no video from {seg}")
                frames += n
            self.notes.append(f"{name}: {len(segs)} segments, {frames} frames")

    def ffprobe_frames(self, path):
        cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
               "stream=nb_read_frames", "-of", "json", path]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            streams = json.loads(r.stdout or "{}").get("streams", [])
            return int(streams[0].get("nb_read_frames", 0)) if streams else 0
        except (subprocess.TimeoutExpired, ValueError):
            return 0


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    lines, standins = collect(root)
    if "--list" in sys.argv:
        for words, origin in lines:
            print(f"{origin}: {' '.join(words)}")
        return 0
    if not lines:
        print("no documented gst-launch-1.0 lines found")
        return 1
    unused = [e["key"] for e in EXPECT if not any(e["key"] in " ".join(w) for w, _ in lines)]
    base = tempfile.mkdtemp(prefix="iptv-docpipes-")
    lock = threading.Lock()
    runs = [Run(w, o, standins, os.path.join(base, f"line{n}"), lock)
            for n, (w, o) in enumerate(lines)]
    for r in runs:
        os.makedirs(r.dir, exist_ok=True)
    jobs = int(os.environ.get("IPTV_DOC_PIPELINE_JOBS", "3"))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(r.run): r for r in runs}
        for fut in concurrent.futures.as_completed(futs):
            r = futs[fut]
            try:
                status, detail = fut.result()
            except Exception as e:  # a bug in the test itself
                status, detail = "fail", f"test error: {e!r}"
            print(f"[{status.upper()}] {r.origin}: {r.text}\n    {detail.replace(chr(10), chr(10) + '    ')}",
                  flush=True)
            failed += status == "fail"
    for k in unused:
        print(f"[FAIL] EXPECT entry matches no documented line (stale): {k}")
        failed += 1
    print(f"{len(runs)} documented lines, {failed} failed")
    if failed == 0:
        subprocess.run(["rm", "-rf", base])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
