// The file sink behind iptvhlssink's splitmuxsink (TS output): like filesink, one file per
// fragment at the `location` splitmuxsink sets, but a write that fails (a full hot folder:
// ENOSPC) does not stop the pipeline. The fragment's file is removed at once (iptvhlssink then
// drops the fragment: it never lists a segment it cannot stat), a RESOURCE/WRITE warning names
// the file and the error (the worker turns it into its `disk-full` probe), and the rest of the
// fragment is discarded; the next fragment is tried again. Not registered as a factory.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GstElement *iptv_ts_file_sink_new(void);

// Low-latency parts (iptvhlssink part-duration > 0): the fragment is cut into parts of at most
// `part_seconds` (hlssink_tsparts.h). Each part is written to `<stem>.<index>.ts` beside the
// fragment's file (complete, renamed into place) and appended to the fragment's file, so the
// segment is its parts end to end; then `func` is called (streaming thread) with the fragment's
// location, the part's index, file, size, duration (s), whether it starts with a keyframe, and
// whether it is the fragment's last (called at EOS, before EOS goes on). A part that cannot be
// written fails the fragment as any write does (no later part of it is reported).
typedef void (*IptvTsPartFunc)(const char *location, guint index, const char *path, guint64 bytes,
                               double duration, gboolean independent, gboolean last,
                               gpointer user_data);
void iptv_ts_file_sink_set_parts(GstElement *sink, double part_seconds, IptvTsPartFunc func,
                                 gpointer user_data);

G_END_DECLS
