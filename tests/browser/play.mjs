// Plays one stream in Debian's chromium through a real player (hls.js or dash.js from npm), driven
// by playwright-core, and prints one JSON object with what the player did. The tests (C++ or
// Python) run this script and assert on its output; it asserts nothing itself.
//
//   node play.mjs --url http://127.0.0.1:PORT/hls/CH/TOKEN/index.m3u8 --player hls --seconds 12
//                 [--switch] [--low-latency] [--cmcd] [--seek-back S] [--min-advance S]
//
// The player page is served at the stream's own origin (a route the browser intercepts, so the
// origin needs no CORS headers and sees exactly the requests a player on a page would send).
// Output fields:
//   ok              the player reached playback and had no fatal error
//   start_time      currentTime when playback first advanced; end_time at the end
//   seek_from/to    with --seek-back: currentTime before the seek and where it landed
//   advanced        end_time - start_time (after a seek: end_time - seek_to), media played
//   wall            wall-clock seconds from the start of playback to the end (advanced / wall
//                   is the rate of the page's media clock; below 1 on a starved machine)
//   stalls          'waiting' events after playback started
//   stall_seconds   time spent waiting after playback started (from a 'waiting' event to the
//                   next 'timeupdate' that advances); longest_stall: the longest such wait;
//                   stalled_at_end: still waiting when the play time ended
//   levels          the renditions the player saw: [{index, height, bitrate, codecs}]
//   switches        rendered level changes: [{from, to, at}]
//   forced_switch   the index --switch asked for (the player picks the first one it is not on);
//                   forced_at: when it asked (same clock as switches[].at). With --switch,
//                   dash.js runs with ABR off for video (streaming.abr.autoSwitchBitrate.video)
//                   so only the forced switch happens after forced_at; hls.js's currentLevel
//                   setter already pins the level.
//   video_height    the <video> element's videoHeight at the end: the height of the frames the
//                   browser actually decoded (proves a rendered switch to a rendition of that height)
//   latency         hls.js: median/min/max of hls.latency samples (seconds), with --low-latency
//   errors          player errors [{fatal, type, details}] and page console errors
//   requests        number of requests the page sent to the stream's origin, by extension
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { player: 'hls', seconds: 12, switch: false, lowLatency: false, cmcd: false,
                 seekBack: 0, minAdvance: 0, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--url') args.url = next();
    else if (a === '--player') args.player = next();
    else if (a === '--seconds') args.seconds = Number(next());
    else if (a === '--switch') args.switch = true;
    else if (a === '--low-latency') args.lowLatency = true;
    else if (a === '--cmcd') args.cmcd = true;
    else if (a === '--seek-back') args.seekBack = Number(next());
    else if (a === '--min-advance') args.minAdvance = Number(next());
    else if (a === '--chromium') args.chromium = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.url) throw new Error('--url is required');
  if (!['hls', 'dash'].includes(args.player)) throw new Error('--player must be hls or dash');
  return args;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>gst-iptv player test</title>
</head><body><video id="v" muted autoplay playsinline width="320" height="180"></video></body></html>`;

// Runs inside the page: attaches the player and records what it does into window.__r.
function attach(opts) {
  const r = (window.__r = { started: false, start_time: null, stalls: 0, levels: [],
                            switches: [], errors: [], latency: [], current: -1,
                            stall_seconds: 0, longest_stall: 0, waiting_since: null });
  const v = document.getElementById('v');
  const now = () => performance.now() / 1000;
  let lastTime = 0;
  const resumed = () => {
    if (r.waiting_since === null) return;
    const d = now() - r.waiting_since;
    r.stall_seconds += d;
    r.longest_stall = Math.max(r.longest_stall, d);
    r.waiting_since = null;
  };
  v.addEventListener('timeupdate', () => {
    if (!r.started && v.currentTime > 0) {
      r.started = true;
      r.start_time = v.currentTime;
      r.started_at = performance.now() / 1000;
    }
    if (v.currentTime > lastTime) resumed();
    lastTime = v.currentTime;
  });
  v.addEventListener('waiting', () => {
    if (!r.started) return;
    r.stalls++;
    if (r.waiting_since === null) r.waiting_since = now();
  });
  if (opts.player === 'hls') {
    const config = { lowLatencyMode: opts.lowLatency, debug: false };
    if (opts.cmcd) config.cmcd = { useHeaders: false };
    const hls = (window.__player = new Hls(config));
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
      r.levels = d.levels.map((l, i) => ({ index: i, height: l.height, bitrate: l.bitrate,
                                           codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(',') }));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => {
      if (r.current !== d.level) r.switches.push({ from: r.current, to: d.level, at: now() });
      r.current = d.level;
    });
    hls.on(Hls.Events.ERROR, (_e, d) => {
      r.errors.push({ fatal: !!d.fatal, type: String(d.type), details: String(d.details) });
    });
    hls.loadSource(opts.url);
    hls.attachMedia(v);
    setInterval(() => {
      if (r.started && Number.isFinite(hls.latency) && hls.latency > 0) r.latency.push(hls.latency);
    }, 250);
  } else {
    const player = (window.__player = dashjs.MediaPlayer().create());
    const settings = { streaming: { abr: { autoSwitchBitrate: { video: !opts.switch } } } };
    if (opts.cmcd) settings.streaming.cmcd = { enabled: true, mode: 'query' };
    player.updateSettings(settings);
    player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
      r.levels = player.getRepresentationsByType('video').map((rep, i) => ({
        index: i, height: rep.height, bitrate: rep.bandwidth, codecs: rep.codecs }));
      const cur = player.getCurrentRepresentationForType('video');
      if (cur) r.current = r.levels.findIndex((l) => l.bitrate === cur.bandwidth);
    });
    player.on(dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType !== 'video') return;
      const reps = player.getRepresentationsByType('video');
      const to = reps.findIndex((x) => x.id === e.newRepresentation.id);
      if (r.current !== to) r.switches.push({ from: r.current, to, at: now() });
      r.current = to;
    });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const err = e.error || {};
      r.errors.push({ fatal: true, type: String(err.code ?? 'error'), details: String(err.message ?? '') });
    });
    player.initialize(v, opts.url, true);
  }
}

function forceSwitch(player) {
  const r = window.__r;
  const count = r.levels.length;
  if (count < 2) return -1;
  const to = r.current === 0 ? count - 1 : 0;
  if (player === 'hls') {
    window.__player.currentLevel = to;  // immediate switch: flushes and loads the new level
  } else {
    window.__player.setRepresentationForTypeByIndex('video', to, true);
  }
  return to;
}

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  const args = parseArgs(process.argv);
  const origin = new URL(args.url).origin;
  const pageUrl = `${origin}/__iptv_player_test__.html`;
  const lib = args.player === 'hls'
    ? path.join(here, 'node_modules/hls.js/dist/hls.min.js')
    : path.join(here, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js');
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--autoplay-policy=no-user-gesture-required'],
  });
  const out = { ok: false, player: args.player, url_path: new URL(args.url).pathname,
                errors: [], requests: {} };
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.route(pageUrl, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    page.on('console', (m) => { if (m.type() === 'error') out.errors.push({ fatal: false, type: 'console', details: m.text() }); });
    page.on('pageerror', (e) => out.errors.push({ fatal: true, type: 'pageerror', details: String(e) }));
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.origin !== origin || u.pathname === new URL(pageUrl).pathname) return;
      const ext = (u.pathname.match(/\.([a-z0-9]+)$/i) || [, 'other'])[1];
      out.requests[ext] = (out.requests[ext] || 0) + 1;
    });
    await page.goto(pageUrl);
    await page.addScriptTag({ path: lib });
    // `switch` must reach the page: with it dash.js's ABR is off for video, or ABR would take
    // the forced representation back within a segment and the forced switch never stays rendered.
    await page.evaluate(attach, { player: args.player, url: args.url, lowLatency: args.lowLatency,
                                  cmcd: args.cmcd, switch: args.switch });
    const t0 = Date.now();
    const deadline = t0 + args.seconds * 1000;
    // Wait for playback to start (at most 30 s beyond the play time).
    await page.waitForFunction(() => window.__r.started || window.__r.errors.some((e) => e.fatal),
                               null, { timeout: 30000 + args.seconds * 1000 }).catch(() => {});
    out.startup_s = (Date.now() - t0) / 1000;
    const started = await page.evaluate(() => window.__r.started);
    if (started) {
      if (args.seekBack > 0) {
        out.seek_from = await page.evaluate(() => document.getElementById('v').currentTime);
        await page.evaluate((s) => { const v = document.getElementById('v'); v.currentTime = Math.max(0, v.currentTime - s); }, args.seekBack);
        await page.waitForTimeout(500);
        out.seek_to = await page.evaluate(() => document.getElementById('v').currentTime);
      }
      const playFor = Math.max(deadline - Date.now(), args.seconds * 500);
      if (args.switch) {
        await page.waitForTimeout(playFor / 3);
        out.forced_at = await page.evaluate(() => performance.now() / 1000);
        out.forced_switch = await page.evaluate(forceSwitch, args.player);
        await page.waitForTimeout((playFor * 2) / 3);
      } else {
        await page.waitForTimeout(playFor);
      }
    }
    const r = await page.evaluate(() => {
      const w = window.__r;
      const v = document.getElementById('v');
      w.stalled_at_end = w.waiting_since !== null;
      if (w.waiting_since !== null) {  // still waiting at the end: counted up to now
        const d = performance.now() / 1000 - w.waiting_since;
        w.stall_seconds += d;
        w.longest_stall = Math.max(w.longest_stall, d);
      }
      return { ...w, ended_at: performance.now() / 1000, end_time: v.currentTime,
               video_height: v.videoHeight };
    });
    out.video_height = r.video_height;
    out.start_time = r.start_time;
    out.end_time = r.end_time;
    // After a seek, what played is measured from where the seek landed.
    const from = out.seek_to !== undefined ? out.seek_to : r.start_time;
    out.advanced = r.started ? r.end_time - from : 0;
    out.stalls = r.stalls;
    // Wall-clock seconds from the start of playback to the end: beside `advanced` (without a
    // seek or a stall), it shows whether the page's media clock kept real time.
    out.wall = r.started ? r.ended_at - r.started_at : 0;
    out.stall_seconds = r.stall_seconds;
    out.longest_stall = r.longest_stall;
    out.stalled_at_end = r.stalled_at_end;
    out.levels = r.levels;
    out.switches = r.switches;
    out.errors.push(...r.errors);
    if (args.lowLatency || r.latency.length) {
      out.latency = { median: median(r.latency), min: Math.min(...r.latency),
                      max: Math.max(...r.latency), samples: r.latency.length };
    }
    out.ok = r.started && !out.errors.some((e) => e.fatal) && out.advanced >= args.minAdvance;
  } catch (e) {
    out.errors.push({ fatal: true, type: 'driver', details: String(e && e.stack || e) });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, errors: [{ fatal: true, type: 'driver', details: String(e) }] }) + '\n');
  process.exit(1);
});
