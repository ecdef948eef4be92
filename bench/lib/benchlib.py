"""Shared helpers of the Python benchmarks (bench/iptvd, bench/api): paths, ports, a real
iptvd under test, and small statistics."""
import os, signal, socket, sqlite3, statistics, subprocess, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
IPTVD = os.path.join(BUILD, "orchestrator/iptvd/iptvd")
ENV = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, "plugins/iptv"),
           GST_REGISTRY=os.path.join(BUILD, "bench-registry.bin"))
OUT = os.path.join(ROOT, "bench/out")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]; s.close(); return p


class Daemon:
    def __init__(self, channels, data, extra=(), env=None):
        self.port = free_port()
        self.data = data
        self.log = open(os.path.join(data, "iptvd.log"), "w")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([IPTVD, "--channels", channels, "--data", data, "--listen",
                                   "127.0.0.1:%d" % self.port, *extra], env=dict(ENV, **(env or {})),
                                  stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill(); self.p.wait()

    def db(self):
        return sqlite3.connect(os.path.join(self.data, "iptvd.db"), timeout=5)

    def events(self, etype, channel):
        try:
            with self.db() as c:
                return [r[0] / 1000.0 for r in c.execute(
                    "SELECT created_at FROM st_events WHERE event_type=? AND channel_id=? ORDER BY id",
                    (etype, channel))]
        except sqlite3.Error:
            return []

    def state(self, channel):
        try:
            with self.db() as c:
                r = c.execute("SELECT state FROM st_channels WHERE channel_id=?", (channel,)).fetchone()
                return r[0] if r else ""
        except sqlite3.Error:
            return ""

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.p.pid)], capture_output=True, text=True)
        return [int(x) for x in out.stdout.split()]


def playlists_ready(data, channel):
    root = os.path.join(data, "hls", channel)
    try:
        mv = open(os.path.join(root, "index.m3u8")).read()
    except OSError:
        return False
    rends = [l.split("/")[0] for l in mv.splitlines() if l and not l.startswith("#")]
    if not rends:
        return False
    for r in rends:
        try:
            if ".ts" not in open(os.path.join(root, r, "index.m3u8")).read():
                return False
        except OSError:
            return False
    return True


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


