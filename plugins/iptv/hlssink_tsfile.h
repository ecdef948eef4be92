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

G_END_DECLS
