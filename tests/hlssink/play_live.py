#!/usr/bin/python3
"""Plays a live HLS/DASH URL with playbin3 for SECONDS in real time (synchronised sinks) and
prints what reached the sinks:  play_live.py URI DEMUXER SECONDS
-> "demuxer=<used> video=<buffers> audio=<buffers>" (exit 0), or "error=<text>" (exit 1).
The legacy demuxer (DEMUXER minus its trailing 2) is ranked out. Buffering messages are
ignored: a live player plays from the live edge instead of pausing to fill a 30 s buffer, as
gst-launch-1.0 would. Runs in its own process so an abort inside the demuxer fails the caller's
check instead of killing the test binary."""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

uri, demuxer, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
Gst.init(None)
legacy = Gst.ElementFactory.find(demuxer[:-1])
if legacy:
    legacy.set_rank(Gst.Rank.NONE)
pb = Gst.ElementFactory.make("playbin3")
counts = {"video": 0, "audio": 0}
used = set()


def sink(kind):
    s = Gst.ElementFactory.make("fakesink")
    s.set_property("sync", True)
    s.set_property("signal-handoffs", True)
    s.connect("handoff", lambda *a: counts.__setitem__(kind, counts[kind] + 1))
    return s


pb.set_property("uri", uri)
pb.set_property("video-sink", sink("video"))
pb.set_property("audio-sink", sink("audio"))
pb.connect("deep-element-added", lambda bin, sub, e: used.add(e.get_factory().get_name())
           if e.get_factory() else None)
loop = GLib.MainLoop()
error = []


def on_message(bus, msg):
    if msg.type == Gst.MessageType.ERROR:
        error.append(msg.parse_error()[0].message)
        loop.quit()
    elif msg.type == Gst.MessageType.EOS:
        loop.quit()


bus = pb.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
pb.set_state(Gst.State.PLAYING)
GLib.timeout_add(int(seconds * 1000), loop.quit)
loop.run()
pb.set_state(Gst.State.NULL)
if error:
    print("error=" + error[0])
    sys.exit(1)
print(f"demuxer={demuxer if demuxer in used else 'none'} video={counts['video']} "
      f"audio={counts['audio']}")
