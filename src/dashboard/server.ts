/**
 * The `sluice serve` web server (node:http, no framework): the runs page with live updates, the
 * redrive action, the investigation view over the lake, `/metrics` and `/healthz`.
 *
 * Live updates: one poller reads the ledger every `pollMs` while at least one browser listens on
 * `/events` (Server-Sent Events), renders the live region, and sends it to every listener when it
 * differs from the last one sent. Another process (`sluice run`, `sluice worker`) writes the same
 * ledger; SQLite's WAL lets this reader see its commits without blocking it. Given `ledgerFile`,
 * the dashboard follows that file when it is deleted or replaced (ledger-follower.ts).
 *
 * Routes (GET unless noted):
 *   /                      runs page            /events        SSE stream of the live region
 *   /investigate           investigation view   /investigate.csv  its peer table as CSV
 *   /api/investigate       the same as JSON     /api/snapshot  the ledger snapshot as JSON
 *   /tables                lake views           /metrics /healthz
 *   POST /api/redrive      re-queue dead units (as `sluice retry`): form fields pipeline, unit?, csrf
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { SluiceError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { Lake } from '../lake/catalog.js';
import { investigate, networkActivitySpan, parseHost, parseWindowBound, peersToCsv, type Investigation } from '../lake/investigate.js';
import type { Ledger } from '../runtime/ledger/types.js';
import { APP_JS, STYLE_CSS } from './assets.js';
import { followLedger, type LedgerFile } from './ledger-follower.js';
import { createLedgerMetrics } from './metrics.js';
import { renderErrorPage, renderInvestigatePage, renderLedgerMissing, renderLive, renderRunsPage, renderTablesPage, type PageContext } from './render.js';
import { authorized, hostHeaderAllowed, isLoopbackHost, newCsrfToken, originAllowed, sameSecret, TOKEN_COOKIE, type AccessPolicy } from './security.js';
import { readSnapshot } from './snapshot.js';

export interface DashboardOptions {
  ledger: Ledger;
  /**
   * The SQLite file behind `ledger`: the dashboard then follows it (a deleted file is said on the
   * page, a replaced one is reopened) and owns the ledger, closing it when replaced and on close.
   */
  ledgerFile?: LedgerFile;
  /** The Parquet lake of the investigation view; without one the view says there is none. */
  lake?: Lake;
  /** Address to bind; loopback unless told otherwise. */
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  /** Required when `host` is not loopback (already resolved from its secret reference). */
  token?: string;
  /** Shown on the page (a path, or a masked URL). */
  ledgerLabel: string;
  lakeLabel: string;
  /** How often the ledger is polled for the live view. */
  pollMs?: number;
  logger?: Logger;
}

export interface DashboardServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Only our own script and style; SVG charts are inline markup, not scripts.
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ...extra,
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new SluiceError('request body too large', { code: 'BODY_TOO_LARGE', stage: 'config' }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts the dashboard; resolves once it listens.
 *
 * @example
 * const dash = await startDashboard({ ledger, lake, port: 8787, ledgerLabel: 'state.db', lakeLabel: 'out/' });
 * console.log(dash.url); // http://127.0.0.1:8787/
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const loopbackOnly = isLoopbackHost(host);
  if (!loopbackOnly && !options.token) {
    throw new SluiceError(`refusing to serve on ${host} without a token: beyond loopback anyone who reaches the port could redrive units and read the lake`, {
      code: 'SERVE_TOKEN_REQUIRED',
      stage: 'config',
      hint: 'pass --token env:NAME (or file:PATH, aws-secretsmanager:ID, aws-ssm:NAME), or bind 127.0.0.1',
    });
  }
  const { lake } = options;
  const log = (options.logger ?? createLogger()).child({ component: 'dashboard' });
  const csrf = newCsrfToken();
  const policy: AccessPolicy = { token: options.token, loopbackOnly, port: options.port ?? 8787 };
  const ctx: PageContext = { csrf, ledger: options.ledgerLabel, lake: options.lakeLabel };
  const follower = followLedger(options.ledger, options.ledgerFile, log);
  let metrics = { ledger: options.ledger, registry: createLedgerMetrics(options.ledger) };
  const metricsOf = (ledger: Ledger) => {
    if (metrics.ledger !== ledger) metrics = { ledger, registry: createLedgerMetrics(ledger) };
    return metrics.registry;
  };
  const pollMs = options.pollMs ?? 500;
  /** The live region: the ledger's runs, or why there is no ledger to read just now. */
  const liveHtml = async (): Promise<string> => {
    const ledger = await follower.current();
    return ledger ? renderLive(ctx, await readSnapshot(ledger)) : renderLedgerMissing(follower.missing ?? 'the ledger is not available');
  };
  const ledgerOr503 = async (res: ServerResponse): Promise<Ledger | null> => {
    const ledger = await follower.current();
    if (!ledger) json(res, 503, { error: follower.missing ?? 'the ledger is not available' });
    return ledger;
  };

  // --- live stream -------------------------------------------------------------------------
  const listeners = new Set<ServerResponse>();
  let lastHtml = '';
  let version = 0;
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  const frame = () => `event: snapshot\ndata: ${JSON.stringify({ version, html: lastHtml })}\n\n`;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const html = await liveHtml();
      if (html !== lastHtml) {
        lastHtml = html;
        version++;
        const data = frame();
        for (const res of listeners) res.write(data);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot read the ledger for the live view');
    } finally {
      polling = false;
    }
  };
  const startPolling = () => {
    timer ??= setInterval(() => void poll(), pollMs);
  };
  const stopPollingIfIdle = () => {
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  // --- handlers ----------------------------------------------------------------------------
  const windowFrom = async (url: URL): Promise<{ from: Date; to: Date }> => {
    const f = url.searchParams.get('from');
    const t = url.searchParams.get('to');
    if (f && t) return { from: parseWindowBound(f, 'from'), to: parseWindowBound(t, 'to') };
    const span = lake ? (await lake.refreshIfStale(), await networkActivitySpan(lake)) : null;
    const fallback = span ?? { from: new Date(Date.now() - 86_400_000), to: new Date() };
    return { from: f ? parseWindowBound(f, 'from') : fallback.from, to: t ? parseWindowBound(t, 'to') : fallback.to };
  };

  const runInvestigation = async (url: URL): Promise<Investigation> => {
    const hostParam = parseHost(url.searchParams.get('host'));
    const window = await windowFrom(url);
    if (!lake) {
      throw new SluiceError('this dashboard has no lake to investigate', { code: 'NO_LAKE', stage: 'config', hint: 'start sluice serve with --lake <folder of Parquet files>' });
    }
    return investigate(lake, { host: hostParam, ...window });
  };

  const redrive = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    const fields: Record<string, string> = type.includes('application/json')
      ? (JSON.parse(body || '{}') as Record<string, string>)
      : Object.fromEntries(new URLSearchParams(body));
    const sent = (req.headers['x-csrf-token'] as string | undefined) ?? fields.csrf ?? '';
    if (!sent || !sameSecret(sent, csrf)) return json(res, 403, { error: 'missing or wrong CSRF token: reload the page and try again' });
    const ledger = await ledgerOr503(res);
    if (!ledger) return;
    const pipeline = fields.pipeline ?? '';
    if (!(await ledger.pipelines()).includes(pipeline)) return json(res, 404, { error: `no pipeline "${pipeline}" in this ledger` });
    // The same as `sluice retry`: dead units back to pending with attempts reset.
    const redriven = await ledger.resetUnits(pipeline, ['dead'], fields.unit ? [fields.unit] : undefined);
    log.info({ pipeline, unit: fields.unit ?? 'all dead', redriven }, 'redrive');
    void poll();
    if ((req.headers.accept ?? '').includes('application/json')) return json(res, 200, { pipeline, redriven });
    res.writeHead(303, { Location: '/' });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    if (!hostHeaderAllowed(req, policy)) return send(res, 421, 'text/plain; charset=utf-8', 'this dashboard answers on its loopback address only\n');
    if (path === '/healthz') return json(res, 200, { ok: true });

    // First visit with ?token=…: trade it for a cookie and drop it from the address bar.
    const queryToken = url.searchParams.get('token');
    if (policy.token !== undefined && queryToken !== null && req.method === 'GET') {
      if (!sameSecret(queryToken, policy.token)) return send(res, 401, 'text/plain; charset=utf-8', 'wrong token\n');
      url.searchParams.delete('token');
      res.writeHead(303, {
        Location: `${path}${url.search}`,
        'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(queryToken)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return res.end();
    }
    if (!authorized(req, policy)) {
      return send(res, 401, 'text/plain; charset=utf-8', 'this dashboard needs its token: open /?token=<token> once, or send Authorization: Bearer <token>\n', {
        'WWW-Authenticate': 'Bearer realm="sluice"',
      });
    }

    if (req.method === 'POST') {
      if (!originAllowed(req)) return json(res, 403, { error: 'cross-site request refused' });
      if (path === '/api/redrive') return redrive(req, res);
      return json(res, 404, { error: `no such action: POST ${path}` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, POST' });

    switch (path) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', renderRunsPage(ctx, await liveHtml()));
      case '/events': {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 2000\n\n');
        listeners.add(res);
        req.on('close', () => {
          listeners.delete(res);
          stopPollingIfIdle();
        });
        // A new listener gets the current state at once, then changes.
        if (lastHtml === '' || timer === null) await poll();
        // (Empty while another poll is still reading: that poll then sends it to everyone.)
        if (listeners.has(res) && lastHtml !== '') res.write(frame());
        startPolling();
        return;
      }
      case '/api/snapshot': {
        const ledger = await ledgerOr503(res);
        return ledger ? json(res, 200, await readSnapshot(ledger)) : undefined;
      }
      case '/metrics': {
        const ledger = await follower.current();
        if (!ledger) return send(res, 503, 'text/plain; charset=utf-8', `${follower.missing ?? 'the ledger is not available'}\n`);
        const registry = metricsOf(ledger);
        const text = await registry.metrics();
        return send(res, 200, registry.contentType, text);
      }
      case '/assets/app.js':
        return sendAsset(req, res, 'text/javascript; charset=utf-8', APP_JS);
      case '/assets/style.css':
        return sendAsset(req, res, 'text/css; charset=utf-8', STYLE_CSS);
      case '/investigate': {
        const hostParam = url.searchParams.get('host') ?? '';
        let window: { from: Date; to: Date };
        try {
          window = await windowFrom(url);
        } catch (err) {
          const message = err instanceof SluiceError ? err.describe() : (err as Error).message;
          return send(res, 400, 'text/html; charset=utf-8', renderInvestigatePage(ctx, { host: hostParam, from: '', to: '', error: message }));
        }
        const view = { host: hostParam, from: window.from.toISOString(), to: window.to.toISOString() };
        // The tables are known without downloading anything; investigate() fetches the window's days of an S3 lake.
        await lake?.refreshIfStale();
        if (!lake?.table('network_activity')) return send(res, 200, 'text/html; charset=utf-8', renderInvestigatePage(ctx, { ...view, empty: true }));
        if (!hostParam) return send(res, 200, 'text/html; charset=utf-8', renderInvestigatePage(ctx, view));
        try {
          const result = await investigate(lake, { host: parseHost(hostParam), ...window });
          return send(res, 200, 'text/html; charset=utf-8', renderInvestigatePage(ctx, { ...view, result }));
        } catch (err) {
          if (!(err instanceof SluiceError)) throw err;
          return send(res, 400, 'text/html; charset=utf-8', renderInvestigatePage(ctx, { ...view, error: err.describe() }));
        }
      }
      case '/api/investigate':
        return json(res, 200, await runInvestigation(url));
      case '/investigate.csv': {
        const result = await runInvestigation(url);
        const name = `peers-${result.query.host.replace(/[^0-9A-Za-z.-]/g, '_')}-${result.query.from.slice(0, 16).replace(/[^0-9]/g, '')}.csv`;
        return send(res, 200, 'text/csv; charset=utf-8', peersToCsv(result.peers), { 'Content-Disposition': `attachment; filename="${name}"` });
      }
      case '/favicon.ico':
        res.writeHead(204);
        return res.end();
      case '/tables':
        await lake?.refreshIfStale();
        return send(res, 200, 'text/html; charset=utf-8', renderTablesPage(ctx, lake?.tables() ?? []));
      default:
        return send(res, 404, 'text/html; charset=utf-8', renderErrorPage(ctx, 404, `nothing at ${path}`));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof SluiceError && err.stage === 'config' ? 400 : 500;
      if (status === 500) log.error({ err: (err as Error).message, url: req.url }, 'dashboard request failed');
      if (res.headersSent) return res.end();
      const message = err instanceof SluiceError ? err.describe() : (err as Error).message;
      if ((req.headers.accept ?? '').includes('text/html')) send(res, status, 'text/html; charset=utf-8', renderErrorPage(ctx, status, message));
      else json(res, status, { error: message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new SluiceError(`cannot listen on ${host}:${options.port ?? 8787}: ${err.code ?? err.message}`, {
          code: 'SERVE_LISTEN_FAILED',
          stage: 'config',
          hint: err.code === 'EADDRINUSE' ? 'pick another --port, or stop the process using it' : 'check --host and --port',
          cause: err,
        }),
      ),
    );
    server.listen(options.port ?? 8787, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    server,
    close: async () => {
      if (timer) clearInterval(timer);
      timer = null;
      for (const res of listeners) res.end();
      listeners.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await follower.close();
    },
  };
}

function sendAsset(req: IncomingMessage, res: ServerResponse, type: string, body: string): void {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag });
    return void res.end();
  }
  send(res, 200, type, body, { ETag: etag, 'Cache-Control': 'no-cache' });
}
