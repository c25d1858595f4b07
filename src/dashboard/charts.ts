/**
 * Small inline SVG charts, drawn on the server: throughput (records/s line over units/min bars),
 * fan-out (distinct peers per 10 minutes) and the host–peer graph. Plain SVG keeps the page free
 * of a charting library and lets the same markup travel over the live event stream.
 */
import type { FanoutBucket, Peer } from '../lake/investigate.js';
import type { ThroughputPoint } from './snapshot.js';
import { escapeHtml } from './html.js';

const fmt = new Intl.NumberFormat('en', { maximumFractionDigits: 1, notation: 'compact' });

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * exp) return step * exp;
  return 10 * exp;
}

function timeLabel(ms: number, withDate = false): string {
  const iso = new Date(ms).toISOString();
  return withDate ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 19);
}

/** Records/s (line, left axis) and units/min (bars, right axis) per bucket. */
export function throughputChart(points: ThroughputPoint[], bucketSeconds: number): string {
  const w = 640;
  const h = 170;
  const pad = { l: 52, r: 52, t: 14, b: 26 };
  if (points.length === 0) {
    return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="throughput: no finished units yet"><text x="${w / 2}" y="${h / 2}" text-anchor="middle" class="muted">no finished units yet</text></svg>`;
  }
  const maxR = niceMax(Math.max(...points.map((p) => p.recordsPerSecond)));
  const maxU = niceMax(Math.max(...points.map((p) => p.unitsPerMinute)));
  const iw = w - pad.l - pad.r;
  const ih = h - pad.t - pad.b;
  const slot = iw / points.length;
  const x = (i: number) => pad.l + slot * (i + 0.5);
  const yR = (v: number) => pad.t + ih - (v / maxR) * ih;
  const yU = (v: number) => pad.t + ih - (v / maxU) * ih;
  const bars = points
    .map((p, i) => {
      const bh = (p.unitsPerMinute / maxU) * ih;
      return `<rect class="bar" x="${(pad.l + slot * i + slot * 0.15).toFixed(1)}" y="${(pad.t + ih - bh).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${bh.toFixed(1)}"><title>${timeLabel(p.at)} · ${fmt.format(p.unitsPerMinute)} units/min</title></rect>`;
    })
    .join('');
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${yR(p.recordsPerSecond).toFixed(1)}`).join(' ');
  const dots = points
    .map((p, i) => `<circle class="dot" cx="${x(i).toFixed(1)}" cy="${yR(p.recordsPerSecond).toFixed(1)}" r="2.5"><title>${timeLabel(p.at)} · ${fmt.format(p.recordsPerSecond)} records/s</title></circle>`)
    .join('');
  const grid = [0, 0.5, 1]
    .map((f) => {
      const y = pad.t + ih - f * ih;
      return `<line class="grid" x1="${pad.l}" x2="${w - pad.r}" y1="${y}" y2="${y}"/><text class="axis" x="${pad.l - 6}" y="${y + 4}" text-anchor="end">${fmt.format(maxR * f)}</text><text class="axis" x="${w - pad.r + 6}" y="${y + 4}">${fmt.format(maxU * f)}</text>`;
    })
    .join('');
  const first = points[0]!.at;
  const last = points[points.length - 1]!.at;
  const withDate = last - first > 86_400_000;
  const xLabels = `<text class="axis" x="${pad.l}" y="${h - 6}">${timeLabel(first, withDate)}</text><text class="axis" x="${w - pad.r}" y="${h - 6}" text-anchor="end">${timeLabel(last, withDate)} UTC · ${bucketSeconds}s buckets</text>`;
  const legend = `<text class="axis legend-r" x="${pad.l}" y="10">records/s</text><text class="axis legend-u" x="${w - pad.r}" y="10" text-anchor="end">units/min</text>`;
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="throughput over time">${grid}${bars}<path class="line" d="${line}"/>${dots}${xLabels}${legend}</svg>`;
}

/** Distinct peers per 10-minute bucket, as bars. */
export function fanoutChart(buckets: FanoutBucket[]): string {
  const w = 640;
  const h = 150;
  const pad = { l: 40, r: 12, t: 12, b: 26 };
  if (buckets.length === 0) return `<svg class="chart" viewBox="0 0 ${w} ${h}"><text x="${w / 2}" y="${h / 2}" text-anchor="middle" class="muted">no flows in this window</text></svg>`;
  const max = niceMax(Math.max(...buckets.map((b) => b.peers)));
  const iw = w - pad.l - pad.r;
  const ih = h - pad.t - pad.b;
  const slot = iw / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const bh = (b.peers / max) * ih;
      return `<rect class="bar fan" data-start="${b.start}" data-peers="${b.peers}" x="${(pad.l + slot * i + slot * 0.1).toFixed(1)}" y="${(pad.t + ih - bh).toFixed(1)}" width="${Math.max(1, slot * 0.8).toFixed(1)}" height="${bh.toFixed(1)}"><title>${b.start.slice(0, 16).replace('T', ' ')} · ${b.peers} peers · ${b.flows} flows</title></rect>`;
    })
    .join('');
  const grid = [0, 0.5, 1]
    .map((f) => `<line class="grid" x1="${pad.l}" x2="${w - pad.r}" y1="${pad.t + ih - f * ih}" y2="${pad.t + ih - f * ih}"/><text class="axis" x="${pad.l - 6}" y="${pad.t + ih - f * ih + 4}" text-anchor="end">${fmt.format(max * f)}</text>`)
    .join('');
  const first = buckets[0]!.start;
  const last = buckets[buckets.length - 1]!.start;
  const labels = `<text class="axis" x="${pad.l}" y="${h - 6}">${first.slice(5, 16).replace('T', ' ')}</text><text class="axis" x="${w - pad.r}" y="${h - 6}" text-anchor="end">${last.slice(5, 16).replace('T', ' ')} UTC</text>`;
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="distinct peers per 10 minutes">${grid}${bars}${labels}</svg>`;
}

export const GRAPH_SIZE = { w: 960, h: 660 };
/** Peers drawn around the host; the table lists all of them. */
export const GRAPH_MAX_PEERS = 24;

function shortLabel(peer: Peer): string {
  const label = peer.name ?? peer.ip;
  return label.length > 22 ? `${label.slice(0, 21)}…` : label;
}

/**
 * The host in the middle, its top peers (by bytes) on a ring; edge width grows with bytes, red
 * edges had rejected flows. Peer nodes carry their position and angle so the page can fan their
 * own peers (the second hop) outwards on click.
 */
export function peerGraph(hostLabel: string, host: string, peers: Peer[]): string {
  const { w, h } = GRAPH_SIZE;
  const cx = w / 2;
  const cy = h / 2;
  // The biggest talkers, plus (up to a quarter of the ring) peers with rejected flows, which are
  // often small (scans) yet what an investigation looks for.
  const rejected = peers.filter((p) => p.rejected > 0).slice(0, Math.floor(GRAPH_MAX_PEERS / 4));
  const top = peers.filter((p) => !rejected.includes(p)).slice(0, GRAPH_MAX_PEERS - rejected.length);
  const shown = [...top, ...rejected];
  // Room outside the ring for second-hop peers.
  const ring = Math.min(w, h) * 0.26;
  const maxBytes = Math.max(1, ...shown.map((p) => p.bytes));
  const edges: string[] = [];
  const nodes: string[] = [];
  shown.forEach((p, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, shown.length) - Math.PI / 2;
    const x = cx + ring * Math.cos(angle);
    const y = cy + ring * Math.sin(angle);
    const width = 1 + 5 * Math.sqrt(p.bytes / maxBytes);
    const internal = p.instanceId !== null || p.interfaceId !== null;
    edges.push(
      `<line class="edge${p.rejected > 0 ? ' rejected' : ''}" x1="${cx}" y1="${cy}" x2="${x.toFixed(1)}" y2="${y.toFixed(1)}" stroke-width="${width.toFixed(1)}"><title>${escapeHtml(p.ip)} · ${p.flows} flows · ${fmt.format(p.bytes)}B${p.rejected ? ` · ${p.rejected} rejected` : ''}</title></line>`,
    );
    const anchor = Math.cos(angle) < -0.2 ? 'end' : Math.cos(angle) > 0.2 ? 'start' : 'middle';
    const lx = x + 12 * Math.cos(angle);
    const ly = y + 12 * Math.sin(angle) + (Math.abs(Math.cos(angle)) <= 0.2 ? (Math.sin(angle) > 0 ? 10 : -4) : 4);
    nodes.push(
      `<g class="node peer${internal ? ' internal' : ' external'}" data-ip="${escapeHtml(p.ip)}" data-x="${x.toFixed(1)}" data-y="${y.toFixed(1)}" data-angle="${angle.toFixed(4)}" tabindex="0" role="button" aria-label="show the peers of ${escapeHtml(p.ip)}"><circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="8"/><text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="${anchor}">${escapeHtml(shortLabel(p))}</text><title>${escapeHtml(`${p.name ?? ''} ${p.ip} — click for its peers (second hop)`.trim())}</title></g>`,
    );
  });
  const hostNode = `<g class="node host"><circle cx="${cx}" cy="${cy}" r="14"/><text x="${cx}" y="${cy + 30}" text-anchor="middle">${escapeHtml(hostLabel)}</text><title>${escapeHtml(host)}</title></g>`;
  const more = peers.length > shown.length ? `<text class="axis" x="${w - 10}" y="${h - 10}" text-anchor="end">${shown.length} of ${peers.length} peers: most bytes and rejected</text>` : '';
  return `<svg id="graph" class="graph" viewBox="0 0 ${w} ${h}" data-host="${escapeHtml(host)}" role="img" aria-label="host and peers graph"><g id="hop2"></g>${edges.join('')}${hostNode}${nodes.join('')}${more}</svg>`;
}
