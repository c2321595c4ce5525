import type { StatusAnswer } from './answers.js';

/** The status page: one document, its style and script inline (no external asset, no build step). */

export const PAGE_STYLE = String.raw`
:root { color-scheme: light dark; --bg: #f7f7f5; --fg: #1d1f21; --muted: #6a6f75; --card: #fff; --line: #e2e2de; --ok: #1f8a4c; --warn: #b36b00; --bad: #c0392b; --bar: #4a78c2; }
@media (prefers-color-scheme: dark) { :root { --bg: #15171a; --fg: #e4e6e8; --muted: #9aa0a6; --card: #1e2125; --line: #30343a; --ok: #4cc38a; --warn: #e0a040; --bad: #f06a5f; --bar: #7aa2e8; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.2rem; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: .4rem 1.4rem; align-items: baseline; margin-bottom: 1rem; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .6rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { color: var(--muted); font-weight: 500; }
td.wrap { white-space: normal; }
.muted { color: var(--muted); }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
svg { display: block; }
svg .bar { fill: var(--bar); } svg .line { fill: none; stroke: var(--bar); stroke-width: 1.5; } svg .fail { fill: var(--bad); }
form input { font: inherit; padding: .3rem; width: 22rem; max-width: 100%; }
[hidden] { display: none; }
`;

export const PAGE_SCRIPT = String.raw`
'use strict';
var REFRESH_MS = 5000;
function el(tag, attrs, children) {
  var node = document.createElementNS(tag === 'svg' || tag === 'rect' || tag === 'polyline' || tag === 'circle' ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
  for (var k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k]));
  (children || []).forEach(function (c) { node.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? '' : String(c))); });
  return node;
}
function cell(key, text, cls, value) { return el('td', { 'data-k': key, 'data-v': value, class: cls }, [text]); }
function bytes(n) {
  if (typeof n !== 'number') return '-';
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}
function ago(iso) {
  if (!iso) return 'never';
  var s = Math.round((Date.now() - Date.parse(iso)) / 1000), future = s < 0;
  s = Math.abs(s);
  var text = s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : s < 129600 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' d';
  return future ? 'in ' + text : text + ' ago';
}
function duration(s) {
  var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm';
}
function table(id, head, rows) {
  var section = document.getElementById(id);
  section.hidden = false;
  var body = section.querySelector('tbody');
  body.replaceChildren.apply(body, rows.length ? rows : [el('tr', {}, [el('td', { colspan: head, class: 'muted' }, ['none configured'])])]);
}
function bars(sizes) {
  var w = 120, h = 24, n = sizes.length, max = Math.max.apply(null, sizes.concat([1])), bw = n ? w / n : w;
  return el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, 'data-k': 'sizes', 'data-n': n, role: 'img' }, sizes.map(function (s, i) {
    var bh = Math.max(1, Math.round(s / max * h));
    return el('rect', { class: 'bar', x: (i * bw).toFixed(1), y: h - bh, width: Math.max(1, bw - 1).toFixed(1), height: bh });
  }));
}
function sparkline(values) {
  var w = 160, h = 24, ok = values.filter(function (v) { return v !== null; }), max = Math.max.apply(null, ok.concat([1]));
  var step = values.length > 1 ? w / (values.length - 1) : w, points = [], marks = [];
  values.forEach(function (v, i) {
    var x = (i * step).toFixed(1);
    if (v === null) marks.push(el('circle', { class: 'fail', cx: x, cy: h - 2, r: 1.8 }));
    else points.push(x + ',' + (h - 1 - v / max * (h - 3)).toFixed(1));
  });
  return el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, 'data-k': 'sparkline', 'data-n': values.length, role: 'img' }, [el('polyline', { class: 'line', points: points.join(' ') })].concat(marks));
}
function stateClass(s) { return /^(ok|up|valid|success)$/.test(s) ? 'ok' : /^(pending|running|renewing|never_run|missing|nothing)$/.test(s) ? 'muted' : 'bad'; }
async function get(path) {
  var r = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  // A new admin.token (or an expired cookie): the page itself asks for the token again.
  if (r.status === 401) { location.replace('/'); throw new Error('unauthorized'); }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}
function agent(s) {
  document.getElementById('version').textContent = s.version;
  document.getElementById('uptime').textContent = duration(s.uptimeSeconds);
  document.getElementById('uptime').setAttribute('data-v', s.uptimeSeconds);
  var reload = document.getElementById('reload');
  reload.textContent = (s.lastReload.ok ? 'ok ' : 'refused ') + ago(s.lastReload.at);
  reload.className = s.lastReload.ok ? '' : 'bad';
}
function certs(a) {
  table('certs', 6, a.certificates.map(function (c) {
    var days = c.notAfter ? Math.floor((Date.parse(c.notAfter) - Date.now()) / 86400000) : null;
    return el('tr', { 'data-row': c.name }, [cell('name', c.name), cell('state', c.state, stateClass(c.state)), cell('days', days === null ? '-' : days, days !== null && days < 14 ? 'bad' : '', days),
      cell('profile', c.profile || 'default', c.profile ? '' : 'muted'), cell('next', c.nextRenewalAt ? ago(c.nextRenewalAt) + (c.renewalReason ? ' (' + c.renewalReason + ')' : '') : '-', 'wrap'), cell('domains', c.domains.join(', '), 'wrap')]);
  }));
}
async function backups(a) {
  var details = await Promise.all(a.jobs.map(function (j) { return get('/backups/' + encodeURIComponent(j.name)); }));
  table('backups', 7, details.map(function (j) {
    var sizes = j.backups.slice().sort(function (x, y) { return Date.parse(x.time) - Date.parse(y.time); }).slice(-30).map(function (b) { return b.sizeBytes; });
    var drill = j.drill && j.drill.last ? j.drill.last.result + ' ' + ago(j.drill.last.finishedAt) : '-';
    return el('tr', { 'data-row': j.name }, [cell('name', j.name), cell('type', j.type), cell('state', j.state, stateClass(j.state)), cell('lastSuccess', ago(j.lastSuccessAt), '', j.lastSuccessAt),
      cell('files', j.files, '', j.files), cell('size', bytes(sizes[sizes.length - 1]), '', sizes[sizes.length - 1]), el('td', {}, [bars(sizes)]), cell('drill', drill, j.drill && j.drill.last ? stateClass(j.drill.last.result) : 'muted')]);
  }));
}
function probes(a) {
  table('probes', 6, a.probes.map(function (p) {
    var last = p.last;
    return el('tr', { 'data-row': p.name }, [cell('name', p.name), cell('kind', p.kind), cell('status', p.status, stateClass(p.status)), cell('reason', last ? last.reason + (last.ok ? '' : ': ' + last.message) : '-', 'wrap'),
      cell('latency', last ? last.latencyMs.toFixed(1) + ' ms' : '-', '', last ? last.latencyMs : null), el('td', {}, [sparkline(p.recentLatencyMs)])]);
  }));
}
function logs(a) {
  table('logs', 5, a.logs.map(function (l) {
    var total = l.files.reduce(function (sum, f) { return sum + f.size; }, 0);
    return el('tr', { 'data-row': l.name }, [cell('name', l.name), cell('lastRotation', ago(l.lastRotation), '', l.lastRotation), cell('bytes', bytes(total), '', total), cell('files', l.files.length, '', l.files.length),
      cell('problems', l.problems.join('; ') || 'none', l.problems.length ? 'warn wrap' : 'muted')]);
  }));
}
function alerts(a) {
  table('alerts', 4, a.firing.map(function (f) {
    return el('tr', { 'data-row': f.key }, [cell('severity', f.severity, f.severity === 'critical' ? 'bad' : 'warn'), cell('summary', f.summary), cell('detail', f.detail, 'wrap'), cell('since', ago(f.startsAt), '', f.startsAt)]);
  }));
}
var RENDER = { certificates: ['/certs', certs], backups: ['/backups', backups], probes: ['/probes', probes], logs: ['/logs', logs], alerts: ['/alerts', alerts] };
async function refresh() {
  var problem = document.getElementById('problem');
  try {
    var s = await get('/status');
    agent(s);
    await Promise.all(s.modules.map(async function (m) {
      var r = RENDER[m.name];
      if (!r) return;
      var section = document.getElementById(r[0].slice(1));
      if (m.state !== 'running') {
        section.hidden = m.state === 'absent';
        section.querySelector('tbody').replaceChildren(el('tr', {}, [el('td', { class: 'bad', colspan: 8 }, [m.name + ' failed: ' + (m.error || 'see the agent log')])]));
        return;
      }
      await r[1](await get(r[0]));
    }));
    problem.hidden = true;
    document.getElementById('refreshed').textContent = new Date().toLocaleTimeString();
    document.body.setAttribute('data-rendered', String(Number(document.body.getAttribute('data-rendered') || 0) + 1));
  } catch (err) {
    problem.hidden = false;
    problem.textContent = 'refresh failed: ' + err.message;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
`;

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function document(title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${escape(title)}</title><style>${PAGE_STYLE}</style></head>
<body>${body}${script ? `<script>${script}</script>` : ''}</body></html>
`;
}

function section(id: string, title: string, columns: string[]): string {
  return `<section id="${id}" hidden><h2>${title}</h2><table><thead><tr>${columns.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody></tbody></table></section>`;
}

/** The page with the agent's line rendered here from `/status`; the script fills in the rest and keeps it fresh. */
export function pageBody(status: StatusAnswer): string {
  const body =
    `<header><h1>caretaker</h1><span>version <b id="version">${escape(status.version)}</b></span>` +
    `<span>up <b id="uptime" data-v="${status.uptimeSeconds}">${Math.floor(status.uptimeSeconds / 60)}m</b></span>` +
    `<span>last reload <b id="reload">${status.lastReload.ok ? 'ok' : 'refused'} ${escape(status.lastReload.at)}</b></span>` +
    `<span class="muted">refreshed <span id="refreshed">-</span></span></header>` +
    `<noscript><p class="warn">The sections below need JavaScript; the same data is in the JSON routes (/status, /certs, /backups, /probes, /logs, /alerts).</p></noscript>` +
    `<p id="problem" class="bad" hidden></p>` +
    section('alerts', 'Firing alerts', ['severity', 'summary', 'detail', 'since']) +
    section('certs', 'Certificates', ['name', 'state', 'days left', 'profile', 'next renewal', 'domains']) +
    section('backups', 'Backups', ['job', 'type', 'state', 'last success', 'files', 'latest size', 'sizes', 'last drill']) +
    section('probes', 'Probes', ['probe', 'kind', 'state', 'reason', 'latency', 'last hour']) +
    section('logs', 'Log sets', ['set', 'last rotation', 'bytes', 'files', 'problems']);
  return document(`caretaker ${status.version}`, body, PAGE_SCRIPT);
}

/** Without the token: a form that sends it the way `/?token=…` does (GET: the admin API takes no form bodies). */
export function tokenForm(message: string): string {
  return document(
    'caretaker: token needed',
    `<section><h2>caretaker status</h2><p>${escape(message)}</p><form method="get" action="/"><label>admin token <input type="password" name="token" autocomplete="current-password" autofocus required></label> <button>Open</button></form></section>`,
  );
}
