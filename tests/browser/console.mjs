// The operator console (docs/console.md) in Debian's chromium, driven by playwright-core: one
// scenario per run, against a running iptvd. Prints one JSON object (the last line) with what it
// saw; the C++ test (test_browser_console.cpp) asserts on it. Nothing here asserts except that a
// step it waits for happens within its time (then `ok` is false and `failed` says which step).
//
//   node console.mjs --base http://127.0.0.1:PORT --scenario NAME --key KEY [--read-key KEY]
//                    [--shots DIR] [--channel ID]
//
// Scenarios: grid, preview, failover, readonly, csrf, keyboard, errors, expired.
// Every report has `console_errors`: console messages of type error and page errors, except the
// HTTP answers the scenario provokes on purpose (listed in `expected_errors`).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

function parseArgs(argv) {
  const a = { channel: 'demo-news', chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--base') a.base = v();
    else if (k === '--scenario') a.scenario = v();
    else if (k === '--key') a.key = v();
    else if (k === '--read-key') a.readKey = v();
    else if (k === '--shots') a.shots = v();
    else if (k === '--channel') a.channel = v();
    else throw new Error('unknown argument ' + k);
  }
  if (!a.base || !a.scenario) throw new Error('--base and --scenario are required');
  return a;
}

const args = parseArgs(process.argv);
const report = { scenario: args.scenario, ok: true, steps: [], console_errors: [], expected_errors: [] };
const t0 = Date.now();
const step = (name, extra = {}) => report.steps.push({ name, at_ms: Date.now() - t0, ...extra });

// HTTP answers a scenario provokes on purpose: chromium logs each failed fetch as a console error.
const allowed = [];
const allow = (status, urlPart) => allowed.push({ status, urlPart });

async function login(page, key) {
  await page.goto(args.base + '/', { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#login #key', { timeout: 15000 });
  await page.fill('#key', key);
  await page.click('#login button[type=submit]');
}

async function shot(page, name) {
  if (!args.shots) return;
  mkdirSync(args.shots, { recursive: true });
  const file = path.join(args.shots, name);
  await page.screenshot({ path: file, fullPage: true });
  report.screenshots = [...(report.screenshots || []), file];
}

async function main() {
  const browser = await chromium.launch({
    executablePath: args.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--autoplay-policy=no-user-gesture-required'],
  });
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = (m.location() && m.location().url) || '';
    const st = /status of (\d+)/.exec(text);
    const hit = st && allowed.find((x) => x.status === Number(st[1]) && url.includes(x.urlPart));
    (hit ? report.expected_errors : report.console_errors).push({ text, url });
  });
  page.on('pageerror', (e) => report.console_errors.push({ text: 'pageerror: ' + e.message }));
  // Before login the page asks whether a session exists: that 401 is the expected answer.
  allow(401, '/api/v1/console/session');
  try {
    await scenarios[args.scenario](page, context);
  } catch (e) {
    report.ok = false;
    report.failed = e.message.split('\n')[0];
    try {
      report.banner = await page.textContent('#banner');
      await shot(page, `failed-${args.scenario}.png`);
    } catch { /* the page may be gone */ }
  }
  await browser.close();
  report.elapsed_ms = Date.now() - t0;
  console.log(JSON.stringify(report));
}

const rowsOf = (page) => page.$$eval('#grid-body tr', (trs) => trs.map((tr) => tr.dataset.channel));

const scenarios = {
  // Login, the grid lists the demo channels with their logos and live thumbnails; filters.
  async grid(page) {
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr', { timeout: 20000 });
    step('grid shown');
    report.rows = await rowsOf(page);
    // Every row's thumbnail is a loaded picture (the workers write one every 5 s).
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#grid-body tr')];
      return rows.length > 0 && rows.every((tr) => {
        const img = tr.querySelector('img.thumb');
        return img && img.complete && img.naturalWidth > 0;
      });
    }, null, { timeout: 30000 });
    step('thumbnails loaded');
    const first = await page.$$eval('#grid-body img.thumb', (imgs) => imgs.map((i) => i.src));
    // Live: the grid refreshes by itself and asks for newer pictures (no reload).
    await page.waitForFunction((before) => {
      const now = [...document.querySelectorAll('#grid-body img.thumb')].map((i) => i.src);
      return now.length === before.length && now.every((s, i) => s !== before[i]) &&
        [...document.querySelectorAll('#grid-body img.thumb')].every((i) => i.complete && i.naturalWidth > 0);
    }, first, { timeout: 20000 });
    step('thumbnails refreshed');
    report.thumbnails = await page.$$eval('#grid-body img.thumb', (imgs) =>
      imgs.map((i) => ({ w: i.naturalWidth, h: i.naturalHeight, age: Number(i.dataset.age) })));
    report.logos = await page.$$eval('#grid-body img.logo', (imgs) =>
      imgs.map((i) => ({ src: i.getAttribute('src'), w: i.naturalWidth })));
    report.cells = await page.$$eval('#grid-body tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.channel,
      state: tr.querySelector('.state').dataset.state,
      source: tr.querySelector('.source').textContent,
      renditions: [...tr.querySelectorAll('.rend')].map((r) => r.textContent),
      sessions: tr.querySelector('.sessions').textContent,
    })));
    await shot(page, 'console-grid.png');
    await page.selectOption('#filter-group', 'Music');
    report.rows_music = await rowsOf(page);
    await page.selectOption('#filter-group', '');
    await page.selectOption('#filter-state', 'offline');
    report.rows_offline = await rowsOf(page);
    await page.selectOption('#filter-state', '');
    step('filters');
  },

  // The channel page: hls.js plays >= 5 s through a preview session, then a rendition switch.
  async preview(page) {
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr');
    await page.click(`#grid-body tr[data-channel="${args.channel}"] a`);
    await page.waitForSelector('#preview-status');
    step('channel page');
    await page.waitForFunction(() => Number(document.querySelector('#preview-status').dataset.played || 0) >= 5,
      null, { timeout: 40000 });
    step('played 5 s');
    const levels = await page.$$eval('#rendition-select option', (os) => os.map((o) => o.value));
    report.levels = levels;
    const current = await page.$eval('#preview-status', (s) => s.dataset.level);
    const target = levels.find((v) => v !== '-1' && v !== current);
    report.switch_to = target;
    await page.selectOption('#rendition-select', target);
    await page.waitForFunction((t) => document.querySelector('#preview-status').dataset.level === t,
      target, { timeout: 20000 });
    step('switched');
    const playedAtSwitch = await page.$eval('#preview-status', (s) => Number(s.dataset.played));
    await page.waitForFunction((p) => Number(document.querySelector('#preview-status').dataset.played) > p + 1,
      playedAtSwitch, { timeout: 20000 });
    step('plays after the switch');
    report.status = await page.$eval('#preview-status', (s) => ({ ...s.dataset, text: s.textContent }));
    // The diagnosis (issue 17's route) finishes within its own bound (about 10 s).
    await page.waitForSelector('#diagnosis-summary, #diagnosis-unavailable', { timeout: 30000 });
    report.diagnosis = await page.textContent('#diagnosis');
    report.timeline = await page.$$eval('#timeline li', (l) => l.length);
    await shot(page, 'console-channel.png');
  },

  // A failover from the page shows as the channel's state within 3 s; then back to the primary.
  async failover(page) {
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr');
    await page.goto(`${args.base}/#/channel/${args.channel}`);
    await page.waitForSelector('#action-failover');
    report.state_before = await page.$eval('#ch-state .state', (s) => s.dataset.state);
    await page.click('#action-failover');
    await page.waitForSelector('#confirm[open]');
    const clicked = Date.now();
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.querySelector('#ch-state .state').dataset.state === 'failover',
      null, { timeout: 10000 });
    report.failover_shown_ms = Date.now() - clicked;
    step('failover shown');
    report.banner = await page.textContent('#banner');
    // Cancel is a no: nothing is sent.
    await page.click('#action-restart');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-cancel');
    report.restart_cancelled_banner = await page.textContent('#banner');
    // The incident note is recorded (POST /api/v1/channels/{id}/incidents, event incident.note).
    await page.fill('#incident-note', 'console test: failover drill');
    await page.click('#incident-add');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => /incident/i.test(document.querySelector('#banner').textContent));
    report.incident_banner = await page.textContent('#banner');
    // Back to the primary.
    await page.click('#action-return');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.querySelector('#ch-state .state').dataset.state !== 'failover',
      null, { timeout: 15000 });
    report.state_after = await page.$eval('#ch-state .state', (s) => s.dataset.state);
    step('returned');
  },

  // A read key: no action buttons, no preview; its hand-made POST (with the CSRF token) is 403.
  async readonly(page) {
    allow(403, '/actions/');
    await login(page, args.readKey);
    await page.waitForSelector('#grid-body tr');
    await page.goto(`${args.base}/#/channel/${args.channel}`);
    await page.waitForSelector('#ch-facts dt');
    await page.waitForSelector('#preview p');
    report.action_buttons = await page.$$eval('[data-action]', (b) => b.map((x) => x.dataset.action));
    report.preview_text = await page.textContent('#preview');
    report.post = await page.evaluate(async (ch) => {
      const s = await (await fetch('/api/v1/console/session')).json();
      const r = await fetch(`/api/v1/channels/${ch}/actions/failover`,
        { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json' }, body: '{}' });
      return { status: r.status, body: await r.json(), role: s.role };
    }, args.channel);
    report.admin_link_hidden = await page.$eval('#nav-admin', (a) => a.hidden);
  },

  // A POST with the cookie but without (or with a wrong) CSRF token is refused.
  async csrf(page) {
    allow(403, '/actions/');
    allow(403, '/renditions/');
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr');
    report.results = await page.evaluate(async (ch) => {
      const out = {};
      let r = await fetch(`/api/v1/channels/${ch}/actions/purge`, { method: 'POST' });
      out.none = { status: r.status, body: await r.json() };
      r = await fetch(`/api/v1/channels/${ch}/actions/purge`, { method: 'POST', headers: { 'X-CSRF-Token': 'f'.repeat(64) } });
      out.wrong = { status: r.status, body: await r.json() };
      r = await fetch(`/api/v1/channels/${ch}/renditions/180p`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"enabled":false}' });
      out.put = { status: r.status, body: await r.json() };
      const s = await (await fetch('/api/v1/console/session')).json();
      r = await fetch(`/api/v1/channels/${ch}/actions/purge`, { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token } });
      out.right = { status: r.status, body: await r.json() };
      return out;
    }, args.channel);
  },

  // Tab alone reaches every action of the channel page, and Enter opens its confirmation.
  async keyboard(page) {
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr');
    await page.goto(`${args.base}/#/channel/${args.channel}`);
    await page.waitForSelector('#actions [data-action]');
    await page.waitForSelector('#renditions [data-action]');
    report.actions = await page.$$eval('[data-action]', (b) => b.map((x) => x.dataset.action));
    const reached = new Set();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    for (let i = 0; i < 120 && reached.size < report.actions.length; i++) {
      await page.keyboard.press('Tab');
      const a = await page.evaluate(() => document.activeElement && document.activeElement.dataset
        ? document.activeElement.dataset.action : undefined);
      if (a) reached.add(a);
    }
    report.reached = [...reached];
    await page.focus('#action-purge');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#confirm[open]');
    report.dialog_focus = await page.evaluate(() => document.activeElement.id);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#confirm').open);
    report.focus_after_escape = await page.evaluate(() => document.activeElement.id);
  },

  // Bad input shows a message, never a blank page: a wrong key, an unknown session cookie, a
  // channel that does not exist.
  async errors(page, context) {
    allow(401, '/api/v1/console/login');
    allow(401, '/api/v1/console/overview');
    allow(401, '/api/v1/events');
    allow(404, '/api/v1/channels/');
    // The grid's thumbnails may reload with the unknown cookie before the page learns the session
    // is gone (the image requests race the session check): their 401 is the same answer.
    allow(401, '/thumbnail.jpg');
    await login(page, 'iptv_00000000_' + '0'.repeat(64));
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
    report.wrong_key = await page.textContent('#login-error');
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr');
    await page.goto(`${args.base}/#/channel/no-such-channel`);
    await page.waitForSelector('#channel-missing');
    report.missing_channel = await page.textContent('#channel-missing');
    // A cookie the daemon does not know (a restart forgets sessions): the page says so.
    const url = new URL(args.base);
    await context.addCookies([{ name: 'iptv_console', value: 'f'.repeat(64), domain: url.hostname,
                                path: '/', httpOnly: true, sameSite: 'Strict' }]);
    await page.goto(args.base + '/#/');
    await page.reload();
    await page.waitForSelector('#login #key');
    report.unknown_cookie = await page.textContent('#banner');
    report.body_text_length = (await page.textContent('body')).trim().length;
  },

  // A session past its expiry (iptvd started with console.session_ttl_seconds small): the page
  // shows that it expired and offers the login again.
  async expired(page) {
    allow(401, '/api/v1/');
    await login(page, args.key);
    await page.waitForSelector('#grid-body tr, #grid');
    step('logged in');
    const ttl = Number(process.env.CONSOLE_TTL || 5);
    await page.waitForTimeout((ttl + 1) * 1000);
    await page.reload();
    await page.waitForSelector('#login #key');
    report.expired_banner = await page.textContent('#banner');
    // Logged in again, the console works.
    await page.fill('#key', args.key);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#grid');
    step('logged in again');
  },
};

main().catch((e) => {
  report.ok = false;
  report.failed = String(e && e.message);
  console.log(JSON.stringify(report));
});
