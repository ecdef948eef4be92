// The iptvd operator console (docs/console.md). No framework: the page is rebuilt from the API's
// answers with DOM calls (never innerHTML with data). Authentication is the session cookie set by
// POST /api/v1/console/login (HttpOnly: this script never sees it); every call that changes
// something repeats the session's CSRF token in X-CSRF-Token. Roles are the API's: a `read` key
// gets no action buttons (and the API refuses its calls anyway).
'use strict';

const S = {
  session: null,     // {key_id, key_name, role, csrf_token, expires_at}
  overview: null,    // GET /api/v1/console/overview
  filters: { group: '', state: '' },
  lastEventId: 0,
  eventLoop: 0,      // generation: a new login restarts the loop
  traffic: {},       // channel -> {requests, errors, rate}
  hls: null,
  page: null,        // {kind: 'grid'|'channel'|'admin', id}
  refreshTimer: 0,
  pollTimer: 0,
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// el('div', {class: 'x', onclick: f}, child, 'text', ...)
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function banner(text, kind = 'error') {
  const b = $('banner');
  if (!text) {
    b.hidden = true;
    b.textContent = '';
    return;
  }
  b.hidden = false;
  b.className = 'banner' + (kind === 'info' ? ' info' : '');
  b.setAttribute('role', kind === 'info' ? 'status' : 'alert');
  b.textContent = text;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && S.session && S.session.csrf_token) headers['X-CSRF-Token'] = S.session.csrf_token;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'iptvd does not answer (' + e.message + ')');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text.trim() };
  }
  if (!res.ok) {
    const d = data || {};
    const err = new ApiError(res.status, d.reason || d.error || 'http_' + res.status,
                             d.message || res.statusText || 'HTTP ' + res.status);
    if (res.status === 401 && path !== '/api/v1/console/login' && S.session) loggedOut(err);
    throw err;
  }
  return data;
}

const canAct = () => S.session && (S.session.role === 'operator' || S.session.role === 'admin');
const isAdmin = () => S.session && S.session.role === 'admin';

// ---- login -------------------------------------------------------------------------------------

// When the session ends (not a secret: it lets a reload say "expired" after the browser has
// dropped the cookie itself at its Max-Age).
const EXPIRES = 'iptv_console_expires_at';

function loggedOut(err) {
  S.session = null;
  S.eventLoop++;
  stopPreview();
  $('nav').hidden = true;
  let why = err && ['session_expired', 'session_unknown', 'key_revoked'].includes(err.code)
    ? err.message : '';
  const until = Date.parse(sessionStorage.getItem(EXPIRES) || '');
  if (!why && until && until <= Date.now())
    why = `Your console session expired at ${new Date(until).toLocaleTimeString()}: log in again with an API key.`;
  // Kept: a reload still says why the login is back (the next login or a logout replaces it).
  renderLogin(why);
}

function renderLogin(message) {
  const main = $('main');
  main.replaceChildren();
  if (message) banner(message);
  const err = el('p', { id: 'login-error', class: 'cond', role: 'alert' });
  const input = el('input', {
    id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'iptv_…', required: true, 'aria-describedby': 'login-help',
  });
  const form = el('form', { class: 'card login', id: 'login' },
    el('h1', {}, 'Log in'),
    el('label', { for: 'key' }, 'API key'),
    input,
    el('p', { id: 'login-help', class: 'muted' },
      'The key is exchanged for a session cookie and not kept by the page. ',
      'The first admin key is in the data folder (admin.key).'),
    err,
    el('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      S.session = await api('POST', '/api/v1/console/login', { key: input.value.trim() });
      input.value = '';
      banner('');
      startSession();
    } catch (e) {
      err.textContent = e.status === 401 ? 'This API key is not valid (or it was revoked).'
                                         : 'Login failed: ' + e.message;
      input.focus();
    }
  });
  main.append(form);
  input.focus();
}

function startSession() {
  if (S.session.expires_at) sessionStorage.setItem(EXPIRES, S.session.expires_at);
  $('nav').hidden = false;
  $('who').textContent = `${S.session.key_name || S.session.key_id} (${S.session.role})`;
  $('nav-admin').hidden = !isAdmin();
  const gen = ++S.eventLoop;
  refreshOverview().then(() => eventLoop(gen));
  route();
}

$('logout').addEventListener('click', async () => {
  try {
    await api('POST', '/api/v1/console/logout');
  } catch { /* the session is gone anyway */ }
  S.session = null;
  S.eventLoop++;
  stopPreview();
  sessionStorage.removeItem(EXPIRES);
  $('nav').hidden = true;
  banner('Logged out.', 'info');
  renderLogin('');
});

// ---- live updates: the API's long poll (GET /api/v1/events?after=N&wait=S) ------------------

async function eventLoop(gen) {
  while (S.session && gen === S.eventLoop) {
    try {
      const d = await api('GET', `/api/v1/events?after=${S.lastEventId}&wait=25&limit=200`);
      if (gen !== S.eventLoop) return;
      for (const e of d.events) {
        S.lastEventId = Math.max(S.lastEventId, e.id);
        onEvent(e);
      }
      if (d.events.length) scheduleRefresh(150);
    } catch (e) {
      if (e.status === 401) return;
      await sleep(2000);
    }
  }
}

function onEvent(e) {
  if (S.page && S.page.kind === 'channel' && e.channel_id === S.page.id) {
    const list = $('timeline');
    if (list) list.prepend(eventItem(e));
    scheduleChannelRefresh(100);
  }
}

function scheduleRefresh(ms) {
  clearTimeout(S.refreshTimer);
  S.refreshTimer = setTimeout(refreshOverview, ms);
}

async function refreshOverview() {
  if (!S.session) return;
  try {
    const o = await api('GET', '/api/v1/console/overview');
    const now = Date.now();
    for (const c of o.channels) {
      const prev = S.traffic[c.id];
      let rate = prev ? prev.rate : null;
      if (prev && c.requests > prev.requests) rate = (c.errors - prev.errors) / (c.requests - prev.requests);
      else if (prev && c.requests === prev.requests && now - prev.at > 60000) rate = null;
      S.traffic[c.id] = { requests: c.requests, errors: c.errors, rate, at: prev && c.requests === prev.requests ? prev.at : now };
    }
    if (!S.lastEventId) S.lastEventId = o.last_event_id;
    S.overview = o;
    if (S.page && S.page.kind === 'grid') renderGridRows();
  } catch (e) {
    if (e.status !== 401) banner('Cannot refresh the channel list: ' + e.message);
  }
}

// Segment ages and thumbnails move without events: a slow poll beside the long poll.
function startPolling() {
  clearInterval(S.pollTimer);
  S.pollTimer = setInterval(() => {
    if (!S.session || document.hidden) return;
    if (S.page && S.page.kind === 'grid') refreshOverview();
    if (S.page && S.page.kind === 'channel') refreshChannel();
  }, 5000);
}

// ---- routing -----------------------------------------------------------------------------------

function route() {
  if (!S.session) return;
  const h = location.hash || '#/';
  let m;
  stopPreview();
  if ((m = h.match(/^#\/channel\/([A-Za-z0-9._@:-]{1,128})$/))) S.page = { kind: 'channel', id: m[1] };
  else if (h === '#/admin') S.page = { kind: 'admin' };
  else S.page = { kind: 'grid' };
  if (S.page.kind === 'grid') renderGrid();
  else if (S.page.kind === 'channel') renderChannel(S.page.id);
  else renderAdmin();
  $('main').focus({ preventScroll: true });
}
window.addEventListener('hashchange', () => {
  banner('');
  route();
});

// ---- formatting --------------------------------------------------------------------------------

function age(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return s.toFixed(1) + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
const stateBadge = (state) => el('span', { class: 'state ' + state, dataset: { state } }, state);
const encoderLabel = (enc) => {
  if (!enc) return el('span', { class: 'muted' }, 'remux');
  const hw = /^(va|vaapi|nv|qsv|v4l2|amf|mpp)/.test(enc);
  return el('span', { class: hw ? 'hw' : '' }, enc + (hw ? ' (hardware)' : ' (software)'));
};
function errorRate(id) {
  const t = S.traffic[id];
  if (!t || t.rate === null || t.rate === undefined) return el('span', { class: 'muted' }, 'no requests');
  const pct = (t.rate * 100).toFixed(1) + ' %';
  return el('span', { class: t.rate > 0.05 ? 'cond' : '' }, pct);
}
function thumbnail(c, big) {
  if (c.thumbnail_age_seconds === null || c.thumbnail_age_seconds === undefined)
    return el('div', { class: 'thumb none', role: 'img', 'aria-label': 'no thumbnail yet' }, 'no thumbnail yet');
  // A new URL every 5 s; the server answers 304 when the picture did not change.
  const v = Math.floor(Date.now() / 5000);
  return el('img', {
    class: 'thumb', alt: 'thumbnail of ' + (c.name || c.id), src: `${c.thumbnail_url}?v=${v}`,
    width: big ? 320 : 160, loading: 'lazy', dataset: { age: c.thumbnail_age_seconds },
  });
}

// ---- the grid ----------------------------------------------------------------------------------

function renderGrid() {
  const main = $('main');
  main.replaceChildren();
  const groupSel = el('select', { id: 'filter-group' }, el('option', { value: '' }, 'all groups'));
  const stateSel = el('select', { id: 'filter-state' }, el('option', { value: '' }, 'all states'));
  for (const s of ['starting', 'live', 'degraded', 'failover', 'slate', 'offline', 'disabled', 'retired'])
    stateSel.append(el('option', { value: s }, s));
  stateSel.value = S.filters.state;
  groupSel.addEventListener('change', () => { S.filters.group = groupSel.value; renderGridRows(); });
  stateSel.addEventListener('change', () => { S.filters.state = stateSel.value; renderGridRows(); });
  main.append(
    el('h1', {}, 'Channels'),
    el('div', { class: 'filters' },
      el('label', { for: 'filter-group' }, 'Group '), groupSel,
      el('label', { for: 'filter-state' }, 'State '), stateSel,
      el('span', { id: 'grid-count', class: 'muted', 'aria-live': 'polite' })),
    el('table', { class: 'grid', id: 'grid' },
      el('thead', {}, el('tr', {},
        ['', 'Channel', 'State', 'Source', 'Renditions: last segment, encoder', 'Probe conditions',
         'Thumbnail', 'Sessions', 'Error rate'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', { id: 'grid-body' })));
  if (S.overview) renderGridRows();
  else refreshOverview();
}

function renderGridRows() {
  const body = $('grid-body');
  if (!body || !S.overview) return;
  const groupSel = $('filter-group');
  const groups = S.overview.groups || [];
  if (groupSel.options.length !== groups.length + 1) {
    groupSel.replaceChildren(el('option', { value: '' }, 'all groups'),
      ...groups.map((g) => el('option', { value: g }, g)));
  }
  groupSel.value = S.filters.group;
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.focusKey : undefined;
  const rows = S.overview.channels.filter((c) =>
    (!S.filters.group || c.group === S.filters.group) && (!S.filters.state || c.state === S.filters.state));
  body.replaceChildren(...rows.map((c) => el('tr', { dataset: { channel: c.id } },
    el('td', {}, c.logo_url ? el('img', { class: 'logo', src: c.logo_url, alt: (c.name || c.id) + ' logo' }) : ''),
    el('td', {},
      el('a', { href: '#/channel/' + c.id, dataset: { focusKey: 'ch:' + c.id } }, c.name || c.id),
      el('div', { class: 'reason' }, c.id + (c.group ? ' · ' + c.group : '') + ' · ' + c.mode)),
    el('td', {}, stateBadge(c.state), el('div', { class: 'reason' }, c.reason || '')),
    el('td', { class: 'source' }, c.active_source),
    el('td', {}, (c.renditions || []).map((r) => el('div', { class: 'rend', dataset: { rendition: r.name } },
      `${r.name}${r.enabled ? '' : ' (disabled)'}: ${age(r.last_segment_age_seconds)} · `, encoderLabel(r.encoder)))),
    el('td', {}, (c.conditions || []).length
      ? c.conditions.map((p) => el('div', { class: 'cond' }, `${p.condition}/${p.stream}`))
      : el('span', { class: 'muted' }, 'none')),
    el('td', {}, thumbnail(c, false)),
    el('td', { class: 'sessions' }, String(c.open_sessions)),
    el('td', {}, errorRate(c.id)))));
  $('grid-count').textContent = `${rows.length} of ${S.overview.channels.length} channels`;
  if (focused) {
    const again = body.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

// ---- the channel page --------------------------------------------------------------------------

let channelTimer = 0;
function scheduleChannelRefresh(ms) {
  clearTimeout(channelTimer);
  channelTimer = setTimeout(refreshChannel, ms);
}

async function renderChannel(id) {
  const main = $('main');
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading ' + id + '…'));
  let d;
  try {
    d = await api('GET', '/api/v1/channels/' + encodeURIComponent(id));
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(el('div', { class: 'card', id: 'channel-missing' },
      el('h1', {}, e.status === 404 ? 'No such channel' : 'Cannot show this channel'),
      el('p', { role: 'alert' }, e.status === 404
        ? `The channel '${id}' does not exist (any more): its record may have been removed.`
        : e.message),
      el('a', { href: '#/' }, 'Back to the channels')));
    return;
  }
  if (!S.page || S.page.kind !== 'channel' || S.page.id !== id) return;
  const ov = S.overview && S.overview.channels.find((c) => c.id === id);
  const act = canAct();
  main.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, '← Channels')),
    el('div', { class: 'card', id: 'channel-head' },
      el('h1', {}, ov && ov.logo_url ? el('img', { class: 'logo', src: ov.logo_url, alt: '' }) : '',
        ' ', d.name || d.id, ' ', el('span', { id: 'ch-state' }, stateBadge(d.state))),
      el('dl', { class: 'kv', id: 'ch-facts' })),
    el('div', { class: 'layout' },
      el('div', {},
        el('section', { class: 'card', 'aria-labelledby': 'preview-h' },
          el('h2', { id: 'preview-h' }, 'Preview'), el('div', { id: 'preview' })),
        el('section', { class: 'card', 'aria-labelledby': 'rend-h' },
          el('h2', { id: 'rend-h' }, 'Renditions'), el('div', { id: 'renditions' })),
        act ? el('section', { class: 'card', 'aria-labelledby': 'act-h', id: 'actions-card' },
          el('h2', { id: 'act-h' }, 'Actions'),
          el('div', { class: 'actions', id: 'actions' },
            actionButton('failover', 'Fail over to the backup', `Switch ${id} to its backup source now?`),
            actionButton('return', 'Return to the primary', `Return ${id} to its primary source now?`),
            actionButton('restart', 'Restart the worker', `Restart ${id}'s worker? Viewers see a short gap.`),
            actionButton('purge', 'Purge cached manifests', `Purge ${id}'s manifests from caches?`)),
          el('h3', {}, 'Incident note'),
          el('label', { for: 'incident-note', class: 'muted' }, 'What happened, for the incident log'),
          el('textarea', { id: 'incident-note', maxlength: 1000 }),
          el('button', { type: 'button', id: 'incident-add', dataset: { action: 'incident' }, onclick: addIncident },
            'Add incident note')) : '',
        el('section', { class: 'card', 'aria-labelledby': 'diag-h' },
          el('h2', { id: 'diag-h' }, 'Diagnosis'), el('div', { id: 'diagnosis' }, 'Loading…'))),
      el('section', { class: 'card', 'aria-labelledby': 'ev-h' },
        el('h2', { id: 'ev-h' }, 'Events'), el('ul', { class: 'timeline', id: 'timeline' }))));
  fillChannel(d);
  startPreview(id, d);
  loadTimeline(id);
  loadDiagnosis(id);
}

function fillChannel(d) {
  const facts = $('ch-facts');
  if (!facts) return;
  $('ch-state').replaceChildren(stateBadge(d.state));
  const src = (d.sources || []).map((s) => `${s.role}: ${s.healthy ? 'healthy' : 'lost'}${s.detail ? ' (' + s.detail + ')' : ''}`).join('; ');
  const pairs = [
    ['State', `${d.state}${d.reason ? ' — ' + d.reason : ''}`],
    ['Active source', d.active_source],
    ['Sources', src || '—'],
    ['Mode', d.mode],
    ['Probe conditions', (d.conditions || []).map((c) => `${c.condition}/${c.stream}`).join(', ') || 'none'],
    ['Worker', d.worker && d.worker.pid ? `pid ${d.worker.pid}` : 'not running'],
    ['Restarts / failovers', `${d.restarts} / ${d.failovers}`],
    ['Last error', d.last_error || '—'],
  ];
  facts.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { fact: k } }, v)]));
  const act = canAct();
  const rends = $('renditions');
  rends.replaceChildren(el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, ['Rendition', 'Last segment', 'Encoder', 'Bitrate', 'fps', act ? 'Action' : '']
      .map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, (d.renditions || []).map((r) => el('tr', { dataset: { rendition: r.name } },
      el('td', {}, r.name + (r.enabled ? '' : ' (disabled)')),
      el('td', {}, age(r.last_segment_age_seconds)),
      el('td', {}, encoderLabel(r.encoder)),
      el('td', {}, r.bitrate_bps ? Math.round(r.bitrate_bps / 1000) + ' kbit/s' : '—'),
      el('td', {}, r.fps ? r.fps.toFixed(1) : '—'),
      el('td', {}, act ? renditionButton(d.id, r) : ''))))));
}

async function refreshChannel() {
  if (!S.page || S.page.kind !== 'channel') return;
  const id = S.page.id;
  try {
    const d = await api('GET', '/api/v1/channels/' + encodeURIComponent(id));
    if (S.page && S.page.id === id) fillChannel(d);
  } catch (e) {
    if (e.status === 404 && S.page && S.page.id === id) {
      stopPreview();
      banner(`The channel '${id}' no longer exists: its record was removed.`);
    }
  }
}

function actionButton(action, label, question) {
  return el('button', {
    type: 'button', dataset: { action }, id: 'action-' + action,
    onclick: () => runAction(question, 'POST',
      `/api/v1/channels/${encodeURIComponent(S.page.id)}/actions/${action}`, undefined, label),
  }, label);
}

function renditionButton(id, r) {
  const enable = !r.enabled;
  const label = (enable ? 'Enable ' : 'Disable ') + r.name;
  return el('button', {
    type: 'button', dataset: { action: 'rendition-' + r.name },
    onclick: () => runAction(`${label} on ${id}?`, 'PUT',
      `/api/v1/channels/${encodeURIComponent(id)}/renditions/${encodeURIComponent(r.name)}`,
      { enabled: enable }, label),
  }, label);
}

// A <dialog> asks first; Escape or Cancel answers no.
function confirmAction(question) {
  const dlg = $('confirm');
  $('confirm-text').textContent = question;
  dlg.returnValue = 'cancel';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    $('confirm-cancel').focus();
  });
}

async function runAction(question, method, path, body, label) {
  const opener = document.activeElement;
  const ok = await confirmAction(question);
  if (opener && opener.focus) opener.focus();
  if (!ok) return;
  try {
    const r = await api(method, path, body === undefined ? {} : body);
    banner(`${label}: accepted${r && r.message ? ' — ' + r.message : ''}`, 'info');
    // The result arrives as events and state: look again soon, then a few times.
    for (const ms of [200, 700, 1500, 3000]) setTimeout(refreshChannel, ms);
    scheduleRefresh(300);
  } catch (e) {
    if (e.status === 401) return;
    banner(`${label}: refused — ${e.message} (HTTP ${e.status}${e.code ? ', ' + e.code : ''})`);
  }
}

async function addIncident() {
  const text = $('incident-note').value.trim();
  if (!text) {
    banner('Write the incident note first.');
    $('incident-note').focus();
    return;
  }
  const ok = await confirmAction(`Add this incident note to ${S.page.id}?`);
  $('incident-add').focus();
  if (!ok) return;
  try {
    await api('POST', `/api/v1/channels/${encodeURIComponent(S.page.id)}/incidents`, { cause: text });
    $('incident-note').value = '';
    banner('Incident note added.', 'info');
    loadTimeline(S.page.id);
  } catch (e) {
    if (e.status === 401) return;
    banner(e.status === 404 && e.code === 'not_found' && /route/.test(e.message)
      ? 'Incident notes are not available on this iptvd (POST /api/v1/channels/{id}/incidents answers 404: ' + e.message + ').'
      : `Could not add the incident note: ${e.message} (HTTP ${e.status})`);
  }
}

function eventItem(e) {
  const d = e.detail || {};
  const extra = [d.reason, d.message, d.source, d.note, d.cause].filter(Boolean).join(' · ');
  return el('li', { dataset: { eventId: e.id, type: e.event_type } },
    el('time', { datetime: e.created_at }, e.created_at.replace('T', ' ').replace('Z', '')),
    el('strong', {}, e.event_type), extra ? ' — ' + extra : '');
}

async function loadTimeline(id) {
  try {
    const d = await api('GET', `/api/v1/events?channel=${encodeURIComponent(id)}&limit=50`);
    const list = $('timeline');
    if (list) list.replaceChildren(...d.events.map(eventItem));
    if (list && !d.events.length) list.append(el('li', { class: 'muted' }, 'No events yet.'));
  } catch (e) {
    if ($('timeline')) $('timeline').replaceChildren(el('li', { class: 'cond' }, 'Cannot load events: ' + e.message));
  }
}

async function loadDiagnosis(id) {
  const box = $('diagnosis');
  // The diagnosis mints a short token and plays the channel: it needs the operator role.
  if (!canAct()) {
    box.replaceChildren(el('p', { class: 'muted', id: 'diagnosis-unavailable' },
      'The diagnosis needs the operator role (iptvctl diagnose ' + id + ' with an operator key).'));
    return;
  }
  try {
    const d = await api('GET', `/api/v1/channels/${encodeURIComponent(id)}/diagnosis`);
    if (!$('diagnosis')) return;
    const hop = d.first_failing_hop;
    const parts = [el('p', { id: 'diagnosis-summary', class: hop ? 'cond' : '' },
      hop ? `First failing hop: step ${hop.step} (${hop.hop}): ${hop.summary}` +
            (hop.command ? ` — remedy: ${hop.command}` : '')
          : `All ${(d.steps || []).length} steps pass (${Math.round(d.elapsed_ms || 0)} ms).`)];
    parts.push(el('ol', { id: 'diagnosis-steps' }, (d.steps || []).map((st) =>
      el('li', { dataset: { status: st.status } },
        el('strong', {}, st.status), ` ${st.title}: ${st.summary}`))));
    parts.push(el('details', {}, el('summary', {}, 'Full answer'), el('pre', {}, JSON.stringify(d, null, 2))));
    box.replaceChildren(...parts);
  } catch (e) {
    if (e.status === 401 || !$('diagnosis')) return;
    box.replaceChildren(el('p', { class: 'muted', id: 'diagnosis-unavailable' },
      e.status === 404 && /route/.test(e.message)
        ? 'Diagnosis is not available on this iptvd (GET /api/v1/channels/{id}/diagnosis does not answer).'
        : `Diagnosis not available: ${e.message} (HTTP ${e.status})`));
  }
}

// ---- the preview: hls.js through a short operator session --------------------------------------

function stopPreview() {
  if (S.hls) {
    S.hls.destroy();
    S.hls = null;
  }
}

async function startPreview(id, d) {
  const box = $('preview');
  if (!canAct()) {
    const ov = S.overview && S.overview.channels.find((c) => c.id === id);
    box.replaceChildren(
      el('p', { class: 'muted' }, 'The live preview needs the operator role; the thumbnail refreshes every few seconds.'),
      ov ? thumbnail(ov, true) : '');
    return;
  }
  let s;
  try {
    s = await api('POST', `/api/v1/channels/${encodeURIComponent(id)}/preview`, {});
  } catch (e) {
    if (e.status !== 401)
      box.replaceChildren(el('p', { class: 'cond', role: 'alert' }, 'No preview: ' + e.message));
    return;
  }
  if (!S.page || S.page.id !== id) return;
  const video = el('video', { id: 'preview-video', muted: true, autoplay: true, playsinline: true, controls: true });
  video.muted = true;
  const sel = el('select', { id: 'rendition-select' }, el('option', { value: '-1' }, 'Auto'));
  const status = el('p', { id: 'preview-status', class: 'muted', 'aria-live': 'off' }, 'Starting…');
  box.replaceChildren(video,
    el('div', { class: 'filters' }, el('label', { for: 'rendition-select' }, 'Rendition '), sel), status);
  if (!window.Hls || !window.Hls.isSupported()) {
    status.textContent = 'This browser cannot play HLS through Media Source Extensions.';
    return;
  }
  const hls = new window.Hls({ lowLatencyMode: false, liveSyncDurationCount: 2 });
  S.hls = hls;
  const info = { level: -1, switches: 0, played: 0, lastTime: null };
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
    sel.replaceChildren(el('option', { value: '-1' }, 'Auto'),
      ...hls.levels.map((l, i) => el('option', { value: String(i) },
        `${l.height ? l.height + 'p' : 'level ' + i} · ${Math.round(l.bitrate / 1000)} kbit/s`)));
    video.play().catch(() => {});
  });
  hls.on(window.Hls.Events.LEVEL_SWITCHED, (_, data) => {
    info.level = data.level;
    info.switches++;
    status.dataset.level = String(data.level);
    status.dataset.switches = String(info.switches);
  });
  hls.on(window.Hls.Events.ERROR, (_, data) => {
    if (data.fatal) {
      status.textContent = 'Playback error: ' + data.details;
      if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => S.hls === hls && hls.startLoad(), 2000);
      else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    }
  });
  sel.addEventListener('change', () => {
    const v = Number(sel.value);
    hls.currentLevel = v;  // -1: automatic
    if (v < 0) hls.nextLevel = -1;
  });
  const tick = setInterval(() => {
    if (S.hls !== hls) return clearInterval(tick);
    // Media time that advanced in real time (a jump to the live edge is not playing).
    const dt = info.lastTime === null ? 0 : video.currentTime - info.lastTime;
    if (!video.paused && dt > 0 && dt < 1.5) info.played += dt;
    info.lastTime = video.currentTime;
    const lat = hls.latency;
    const lvl = info.level >= 0 && hls.levels[info.level] ? hls.levels[info.level] : null;
    status.dataset.played = info.played.toFixed(1);
    status.dataset.latency = Number.isFinite(lat) ? lat.toFixed(2) : '';
    status.textContent = `${video.paused ? 'Paused' : 'Playing'} · ${lvl ? (lvl.height + 'p') : '—'} · ` +
      `latency ${Number.isFinite(lat) && lat > 0 ? lat.toFixed(1) + ' s' : 'measuring…'} · played ${info.played.toFixed(0)} s`;
  }, 500);
  hls.loadSource(s.playback_path);
  hls.attachMedia(video);
}

// ---- admin: audit log and keys ------------------------------------------------------------------

async function renderAdmin() {
  const main = $('main');
  if (!isAdmin()) {
    main.replaceChildren(el('div', { class: 'card' }, el('h1', {}, 'Audit and keys'),
      el('p', { role: 'alert' }, 'The audit log and the keys need the admin role.')));
    return;
  }
  main.replaceChildren(el('h1', {}, 'Audit and keys'),
    el('section', { class: 'card' }, el('h2', {}, 'API keys'), el('div', { id: 'keys' }, 'Loading…')),
    el('section', { class: 'card' }, el('h2', {}, 'Audit log (latest 100)'), el('div', { id: 'audit' }, 'Loading…')));
  const table = (heads, rows) => el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((v) => el('td', {}, v ?? '—'))))));
  try {
    const k = await api('GET', '/api/v1/keys');
    $('keys').replaceChildren(table(['id', 'name', 'role', 'created', 'last used', 'revoked'],
      k.keys.map((x) => [x.id, x.name, x.role, x.created_at, x.last_used_at, x.revoked ? 'yes' : 'no'])));
  } catch (e) {
    if ($('keys')) $('keys').textContent = 'Cannot list keys: ' + e.message;
  }
  try {
    const a = await api('GET', '/api/v1/audit?limit=100');
    $('audit').replaceChildren(table(['at', 'actor', 'action', 'target', 'outcome', 'reason'],
      a.entries.map((x) => [x.at, x.actor, x.action, x.target, x.outcome, x.reason])));
  } catch (e) {
    if ($('audit')) $('audit').textContent = 'Cannot read the audit log: ' + e.message;
  }
}

// ---- start -------------------------------------------------------------------------------------

async function boot() {
  startPolling();
  try {
    S.session = await api('GET', '/api/v1/console/session');
    if (!S.session.csrf_token) throw new ApiError(401, 'unauthorized', '');
    startSession();
  } catch (e) {
    S.session = null;
    if (e.status === 401 || e.status === 0) {
      if (e.status === 0) banner(e.message);
      loggedOut(e);
    } else {
      banner('The console cannot start: ' + e.message);
      renderLogin('');
    }
  }
}
boot();
