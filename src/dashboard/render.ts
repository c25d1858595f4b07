/**
 * The dashboard's HTML, rendered on the server. The live part of the runs page (`renderLive`) is
 * the same markup the event stream sends when the ledger changes, so the first paint and every
 * update come from one function and the browser script only swaps it in.
 */
import type { Investigation, Peer } from '../lake/investigate.js';
import type { LakeTable } from '../lake/catalog.js';
import type { UnitRow, UnitState } from '../runtime/ledger/types.js';
import { fanoutChart, peerGraph, throughputChart } from './charts.js';
import { escapeHtml as e } from './html.js';
import type { DashboardSnapshot, PipelineSnapshot } from './snapshot.js';

const num = new Intl.NumberFormat('en');
const STATES: UnitState[] = ['pending', 'leased', 'done', 'failed', 'dead', 'superseded'];
/** Superseded units are history (an older version of a key), not work: the progress bar leaves them out. */
const WORK_STATES = STATES.filter((s) => s !== 'superseded');

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function time(ms: number | null): string {
  if (ms === null) return '—';
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}" title="${iso}">${iso.slice(5, 10)} ${iso.slice(11, 19)}</time>`;
}

function baseName(key: string): string {
  const i = key.lastIndexOf('/');
  return i >= 0 ? key.slice(i + 1) : key;
}

function badge(state: UnitState): string {
  return `<span class="badge s-${state}">${state}</span>`;
}

export interface PageContext {
  csrf: string;
  /** Shown in the header: the ledger and lake being served. */
  ledger: string;
  lake: string;
}

function layout(ctx: PageContext, active: 'runs' | 'investigate' | 'tables', title: string, body: string): string {
  const nav = (id: typeof active, href: string, label: string) => `<a href="${href}"${active === id ? ' class="active" aria-current="page"' : ''}>${label}</a>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${e(ctx.csrf)}">
<title>${e(title)} · Sluice</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
</head><body data-page="${active}">
<header class="top"><div class="brand"><span class="logo" aria-hidden="true">◆</span> Sluice</div>
<nav>${nav('runs', '/', 'Runs')}${nav('investigate', '/investigate', 'Investigate')}${nav('tables', '/tables', 'Lake')}<a href="/metrics">Metrics</a></nav>
<div class="where" title="ledger and lake served"><span>ledger <code>${e(ctx.ledger)}</code></span><span>lake <code>${e(ctx.lake)}</code></span></div>
${active === 'runs' ? '<div id="live-status" class="live off" role="status">connecting…</div>' : ''}
</header>
<main>${body}</main>
<div id="toast" role="status" aria-live="polite"></div>
</body></html>`;
}

function redriveForm(ctx: PageContext, pipeline: string, unit: UnitRow | null): string {
  const label = unit ? 'Redrive' : 'Redrive all dead';
  return `<form class="redrive" method="post" action="/api/redrive"><input type="hidden" name="csrf" value="${e(ctx.csrf)}"><input type="hidden" name="pipeline" value="${e(pipeline)}">${unit ? `<input type="hidden" name="unit" value="${e(unit.id)}">` : ''}<button type="submit"${unit ? ` data-key="${e(unit.key)}"` : ''}>${label}</button></form>`;
}

function problemCard(ctx: PageContext, p: PipelineSnapshot, u: UnitRow): string {
  const err = u.lastError;
  const retry = u.state === 'failed' && u.nextAttemptAt ? `<span class="muted">next attempt ${time(u.nextAttemptAt)}</span>` : '';
  return `<article class="problem s-${u.state}" data-unit="${e(u.id)}" data-state="${u.state}">
<header>${badge(u.state)} <code class="key" title="${e(u.key)}">${e(u.key)}</code></header>
<dl><dt>attempts</dt><dd>${u.attempts}</dd><dt>error</dt><dd><code>${e(err?.code ?? '—')}</code> at <code>${e(err?.stage ?? '—')}</code>${err?.retryable ? ' (retryable)' : ''}</dd><dt>updated</dt><dd>${time(u.updatedAt)} ${retry}</dd></dl>
<pre class="error">${e(err?.message ?? 'no error recorded')}${err?.hint ? `\nhint: ${e(err.hint)}` : ''}</pre>
${u.state === 'dead' ? redriveForm(ctx, p.name, u) : ''}
</article>`;
}

function unitRow(u: UnitRow): string {
  // The message usually starts with the object's path, which the row already shows.
  const message = u.lastError?.message.replace(/^\S*\/[^\s:]*: /, '') ?? '';
  const err = u.lastError ? `<span class="err" title="${e(u.lastError.message)}">${e(u.lastError.code)}: ${e(message.slice(0, 90))}</span>` : '';
  const newer = u.supersededBy ? ` <span class="muted" title="${e(u.supersededBy)}">replaced by newer version ${e(u.supersededBy.slice(0, 8))}</span>` : '';
  return `<tr data-unit="${e(u.id)}" data-state="${u.state}"><td class="key"><span title="${e(u.key)}">${e(baseName(u.key))}</span></td><td>${badge(u.state)}</td><td class="n">${u.attempts}</td><td class="n">${num.format(u.recordsIn)}</td><td class="n">${num.format(u.recordsOut)}</td><td class="n">${u.recordsRejected ? num.format(u.recordsRejected) : ''}</td><td class="n">${formatDuration(u.durationMs)}</td><td>${err}${newer}</td></tr>`;
}

/** A run's units: a run that only found units already done says so instead of "0 / 13". */
function runUnits(u: { total: number; done: number; skipped?: number }): string {
  const skipped = u.skipped ?? 0;
  const already = skipped > 0 ? `${num.format(skipped)} already done` : '';
  if (u.done === 0 && already) return already;
  const now = `${num.format(u.done)} / ${num.format(u.total - skipped)}`;
  return already ? `${now} + ${already}` : now;
}

function pipelineCard(ctx: PageContext, p: PipelineSnapshot): string {
  const total = WORK_STATES.reduce((n, s) => n + p.counts[s], 0);
  const bar = WORK_STATES.filter((s) => p.counts[s] > 0)
    .map((s) => `<span class="seg s-${s}" style="width:${((100 * p.counts[s]) / Math.max(1, total)).toFixed(2)}%" title="${p.counts[s]} ${s}"></span>`)
    .join('');
  const pills = STATES.map((s) => `<span class="pill s-${s}" data-count="${s}"><b>${num.format(p.counts[s])}</b> ${s}</span>`).join('');
  const run = p.runs[0];
  const runs = p.runs.length
    ? `<table class="runs"><thead><tr><th>run</th><th>started</th><th>finished</th><th class="n">units done</th><th class="n">dead</th><th class="n">records in</th><th class="n">rejected</th><th class="n">records/s</th></tr></thead><tbody>${p.runs
        .map(
          (r) =>
            `<tr><td><code title="${e(r.id)}">${e(r.id.slice(0, 8))}</code></td><td>${time(r.startedAt)}</td><td>${r.finishedAt ? time(r.finishedAt) : '<span class="badge s-leased">running</span>'}${r.interrupted ? ' <span class="badge s-failed">interrupted</span>' : ''}</td><td class="n">${r.units ? runUnits(r.units) : ''}</td><td class="n">${r.units?.dead ? num.format(r.units.dead) : ''}</td><td class="n">${r.records ? num.format(r.records.in) : ''}</td><td class="n">${r.records?.rejected ? num.format(r.records.rejected) : ''}</td><td class="n">${r.recordsPerSecond !== null ? num.format(Math.round(r.recordsPerSecond)) : ''}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">no runs recorded yet</p>';
  const alive = p.workers.filter((w) => w.stoppedAt === null);
  const workers = p.workers.length
    ? `<p class="muted workers">${alive.length} worker(s) running${alive.length ? `: ${alive.map((w) => `<code>${e(w.host)}/${w.pid}</code> (${w.unitsInFlight} in flight)`).join(', ')}` : ''}</p>`
    : '';
  const dead = p.problems.filter((u) => u.state === 'dead');
  const problems = p.problems.length
    ? `<section class="problems"><h3>Failures and dead units <span class="muted">(${p.counts.dead} dead, ${p.counts.failed} waiting to retry)</span>${dead.length > 1 ? redriveForm(ctx, p.name, null) : ''}</h3>${p.problems.map((u) => problemCard(ctx, p, u)).join('')}</section>`
    : '';
  return `<section class="card pipeline" data-pipeline="${e(p.name)}">
<header class="card-head"><h2>${e(p.name)}</h2><div class="pills">${pills}</div></header>
<div class="progress" aria-label="${p.counts.done} of ${total} units done">${bar}</div>
<div class="stats"><div><b>${num.format(p.totals.recordsIn)}</b><span>records in</span></div><div><b>${num.format(p.totals.recordsOut)}</b><span>records out</span></div><div><b>${num.format(p.totals.recordsRejected)}</b><span>rejected (dead letters)</span></div><div><b>${num.format(p.totals.recordsFiltered)}</b><span>filtered</span></div><div><b>${run?.finishedAt === null ? 'running' : run ? 'idle' : '—'}</b><span>latest run</span></div></div>
${problems}
<div class="grid2"><div><h3>Throughput</h3>${throughputChart(p.throughput.points, p.throughput.bucketSeconds)}</div><div><h3>Runs</h3>${runs}${workers}</div></div>
<h3>Units <span class="muted">(${num.format(Math.min(p.units.length, total))} most recently changed of ${num.format(total)})</span></h3>
<table class="units"><thead><tr><th>object</th><th>state</th><th class="n">attempts</th><th class="n">in</th><th class="n">out</th><th class="n">rejected</th><th class="n">duration</th><th>error</th></tr></thead><tbody>${p.units.map(unitRow).join('')}</tbody></table>
</section>`;
}

/** The live region of the runs page (also what the event stream sends). */
export function renderLive(ctx: PageContext, snapshot: DashboardSnapshot): string {
  if (snapshot.pipelines.length === 0) {
    return '<section class="card empty"><h2>No runs yet</h2><p>Start one in another terminal, for example <code>sluice demo</code> or <code>sluice run -c pipeline.yaml --state &lt;this ledger&gt;</code>: its units appear here as they are planned and processed, without reloading.</p></section>';
  }
  return snapshot.pipelines.map((p) => pipelineCard(ctx, p)).join('');
}

/** The live region while the ledger file is missing (deleted, or being written anew). */
export function renderLedgerMissing(message: string): string {
  return `<section class="card empty ledger-missing" role="alert"><h2>No ledger</h2><p>${e(message)}</p></section>`;
}

/** The runs page around its live region (`renderLive`, or `renderLedgerMissing`). */
export function renderRunsPage(ctx: PageContext, liveHtml: string): string {
  return layout(ctx, 'runs', 'Runs', `<div id="live" data-version="0">${liveHtml}</div>`);
}

export interface InvestigateView {
  host: string;
  from: string;
  to: string;
  result?: Investigation;
  error?: string;
  /** True when the lake has no network activity yet. */
  empty?: boolean;
}

function peerTable(peers: Peer[], query: Investigation['query']): string {
  const rows = peers
    .map((p) => {
      const link = `/investigate?host=${encodeURIComponent(p.ip)}&from=${encodeURIComponent(query.from)}&to=${encodeURIComponent(query.to)}`;
      return `<tr data-ip="${e(p.ip)}"><td><a href="${e(link)}"><code>${e(p.ip)}</code></a></td><td>${e(p.name ?? '')}</td><td><code>${e(p.instanceId ?? '')}</code></td><td>${e(p.network ?? '')}</td><td>${e(p.ports.slice(0, 8).join(', '))}${p.ports.length > 8 ? ` +${p.ports.length - 8}` : ''}</td><td>${p.direction}</td><td class="n">${num.format(p.flows)}</td><td class="n" data-bytes="${p.bytes}">${formatBytes(p.bytes)}</td><td class="n">${num.format(p.accepted)}</td><td class="n${p.rejected ? ' rej' : ''}">${num.format(p.rejected)}</td><td title="${e(p.firstSeen)} – ${e(p.lastSeen)}">${e(p.firstSeen.slice(11, 16))}–${e(p.lastSeen.slice(11, 16))}</td></tr>`;
    })
    .join('');
  return `<div class="table-wrap"><table class="peers" id="peers"><thead><tr><th>peer</th><th>name</th><th>instance</th><th>network</th><th>ports</th><th>dir</th><th class="n">flows</th><th class="n">bytes</th><th class="n">accepted</th><th class="n">rejected</th><th>seen (UTC)</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

export function renderInvestigatePage(ctx: PageContext, view: InvestigateView): string {
  const local = (iso: string) => iso.slice(0, 16);
  const form = `<form class="investigate" method="get" action="/investigate">
<label>IP, ENI or instance id<input name="host" value="${e(view.host)}" placeholder="10.0.1.12, eni-…, i-…" required autocomplete="off" spellcheck="false"></label>
<label>from (UTC)<input type="datetime-local" name="from" value="${e(local(view.from))}" step="60"></label>
<label>to (UTC)<input type="datetime-local" name="to" value="${e(local(view.to))}" step="60"></label>
<button type="submit">Investigate</button></form>`;
  let body = `<section class="card"><h2>Investigate a host</h2><p class="muted">Everything one address, interface or instance exchanged traffic with, read from the Parquet lake with DuckDB.</p>${form}</section>`;
  if (view.empty) body += '<section class="card empty"><p>The lake has no OCSF Network Activity yet: run <code>sluice demo</code>, or a pipeline with the <code>ocsf</code> transform and a Parquet <code>files</code> sink into the lake folder.</p></section>';
  if (view.error) body += `<section class="card"><p class="error-msg" role="alert">${e(view.error)}</p></section>`;
  const r = view.result;
  if (r) {
    const label = r.host.name ?? r.query.host;
    const who = [r.host.name, ...r.host.ips, r.host.instanceId, ...r.host.interfaceIds].filter((x): x is string => !!x);
    const rejected = r.peers.reduce((n, p) => n + p.rejected, 0);
    const internalPeers = r.peers.filter((p) => p.instanceId !== null || p.interfaceId !== null).length;
    const csv = `/investigate.csv?host=${encodeURIComponent(r.query.host)}&from=${encodeURIComponent(r.query.from)}&to=${encodeURIComponent(r.query.to)}`;
    body += `<section class="card result" data-host="${e(r.query.host)}">
<header class="card-head"><h2>${e(label)}</h2><div class="who">${who.map((w) => `<code>${e(w)}</code>`).join(' ')}</div></header>
<div class="stats"><div><b id="peer-count">${num.format(r.peers.length)}</b><span>peers</span></div><div><b>${num.format(internalPeers)}</b><span>inside the estate</span></div><div><b>${num.format(r.flows)}</b><span>flow records</span></div><div><b>${formatBytes(r.bytes)}</b><span>bytes</span></div><div><b class="${rejected ? 'rej' : ''}">${num.format(rejected)}</b><span>rejected flows</span></div></div>
<div class="grid2"><div><h3>Fan-out <span class="muted">distinct peers per 10 minutes</span></h3>${fanoutChart(r.fanout)}</div>
<div><h3>Window</h3><p><time>${e(r.query.from.replace('T', ' ').slice(0, 16))}</time> → <time>${e(r.query.to.replace('T', ' ').slice(0, 16))}</time> UTC</p><p class="muted">Click a peer in the graph to draw its own peers (second hop): new internal hosts reached through a peer are how lateral movement shows.</p></div></div>
<h3>Graph <span class="muted">host, peers, second hop on demand</span></h3>
<div class="graph-wrap">${peerGraph(label, r.query.host, r.peers)}<div class="legend"><span class="l-host">host</span><span class="l-int">peer inside the estate</span><span class="l-ext">external peer</span><span class="l-hop">second hop</span><span class="l-rej">rejected flows</span></div></div>
<h3>Peers <a class="button" id="csv" href="${e(csv)}" download>Export CSV</a></h3>
${peerTable(r.peers, r.query)}
</section>`;
  }
  return layout(ctx, 'investigate', view.host ? `Investigate ${view.host}` : 'Investigate', body);
}

export function renderTablesPage(ctx: PageContext, tables: LakeTable[]): string {
  const rows = tables
    .map((t) => `<tr><td><code>${e(t.name)}</code></td><td>${t.classUid ?? ''}</td><td class="n">${num.format(t.files)}</td><td class="n">${formatBytes(t.bytes)}</td><td>${t.hive ? 'region / accountId / eventDay' : ''}</td></tr>`)
    .join('');
  const body = `<section class="card"><h2>Lake tables</h2><p class="muted">Views over the Parquet lake, as <code>sluice query</code> sees them, e.g. <code>sluice query "select count(*) from network_activity"</code>.</p>${
    tables.length ? `<table><thead><tr><th>view</th><th>OCSF class</th><th class="n">files</th><th class="n">size</th><th>partition columns</th></tr></thead><tbody>${rows}</tbody></table>` : '<p>No Parquet files in the lake yet.</p>'
  }</section>`;
  return layout(ctx, 'tables', 'Lake', body);
}

export function renderErrorPage(ctx: PageContext, status: number, message: string): string {
  return layout(ctx, 'runs', `${status}`, `<section class="card"><h2>${status}</h2><p class="error-msg">${e(message)}</p></section>`);
}
