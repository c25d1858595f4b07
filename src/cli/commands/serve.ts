/**
 * `sluice serve`: the dashboard over an existing ledger and a Parquet lake, found as the other
 * reading commands find them (default-paths.ts). Binds loopback unless `--host` says otherwise,
 * and then only with `--token <secret reference>`. A SQLite ledger file that is deleted or
 * replaced while serving (a new demo run) is followed: the dashboard reopens it.
 */
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { startDashboard } from '../../dashboard/server.js';
import { isLoopbackHost } from '../../dashboard/security.js';
import { openLake } from '../../lake/catalog.js';
import { describeLedger, isLedgerReference, openLedger, resolveLedgerState } from '../../runtime/ledger/open-ledger.js';
import { isSecretRef, resolveSecretRefAsync } from '../../core/secrets.js';
import { locateLake, locateLedger, type LocateFlags } from '../default-paths.js';

export interface ServeFlags extends LocateFlags {
  cache?: string;
  port: number;
  host: string;
  token?: string;
  pollMs?: number;
}

async function resolveToken(flags: ServeFlags): Promise<string | undefined> {
  if (flags.token === undefined) return undefined;
  if (!isSecretRef(flags.token)) {
    throw new SluiceError('--token takes a secret reference, not the token itself (it would show in the process list and shell history)', {
      code: 'SERVE_TOKEN_LITERAL',
      stage: 'config',
      hint: 'export SLUICE_DASHBOARD_TOKEN=… and pass --token env:SLUICE_DASHBOARD_TOKEN (or file:PATH, aws-secretsmanager:ID, aws-ssm:NAME)',
    });
  }
  const token = (await resolveSecretRefAsync(flags.token)).trim();
  if (token.length < 16) {
    throw new SluiceError(`the token in ${flags.token} is ${token.length} characters long; use at least 16`, {
      code: 'SERVE_TOKEN_WEAK',
      stage: 'config',
      hint: 'generate one with: openssl rand -base64 32',
    });
  }
  return token;
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  if (!isLoopbackHost(flags.host) && flags.token === undefined) {
    throw new SluiceError(`refusing to serve on ${flags.host} without --token: beyond loopback anyone who reaches the port could redrive units and read the lake`, {
      code: 'SERVE_TOKEN_REQUIRED',
      stage: 'config',
      hint: 'pass --token env:NAME (a secret reference), or leave --host at 127.0.0.1',
    });
  }
  const token = await resolveToken(flags);
  const { value: state } = locateLedger(flags);
  const lakeFound = locateLake(flags, { optional: true });
  const { kind, location } = resolveLedgerState(state);
  const ledger = await openLedger(state, { mustExist: true });
  const rel = (p: string) => (p.startsWith('s3://') ? p : path.relative(process.cwd(), p) || '.');
  const ledgerLabel = isLedgerReference(state) ? describeLedger(state) : rel(state);
  let lake;
  let dashboard;
  try {
    // An S3 lake: the investigation downloads the days of its window only.
    lake = lakeFound ? await openLake(lakeFound.value, { s3: lakeFound.s3, cacheDir: flags.cache, download: 'on-demand' }) : undefined;
    dashboard = await startDashboard({
      ledger,
      // A SQLite file may be deleted and written anew under the same name (`npm start` again).
      ledgerFile: kind === 'sqlite' ? { path: location, reopen: () => openLedger(location, { mustExist: true }) } : undefined,
      lake,
      host: flags.host,
      port: flags.port,
      token,
      ledgerLabel,
      lakeLabel: lakeFound ? rel(lakeFound.value) : 'none',
      pollMs: flags.pollMs,
    });
  } catch (err) {
    lake?.close();
    await ledger.close();
    throw err;
  }
  const lakeSummary = lake ? `lake ${rel(lake.root)}: ${lake.tables().map((t) => t.name).join(', ') || 'no Parquet yet'}` : 'no lake: pass --lake <folder> for the investigation view';
  process.stdout.write(`sluice serve: ${dashboard.url}  (ledger ${ledgerLabel}, ${lakeSummary})\n`);
  if (token) process.stdout.write(`  open ${dashboard.url}?token=<the token> once in a browser; scrapers send Authorization: Bearer <token>\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await dashboard.close();
  lake?.close();
}
