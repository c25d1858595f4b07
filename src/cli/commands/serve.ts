/**
 * `sluice serve`: the dashboard over a ledger and a Parquet lake (defaults: the demo's). Binds
 * loopback unless `--host` says otherwise, and then only with `--token <secret reference>`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { startDashboard } from '../../dashboard/server.js';
import { isLoopbackHost } from '../../dashboard/security.js';
import { openLake } from '../../lake/catalog.js';
import { describeLedger, isLedgerReference, openLedger } from '../../runtime/ledger/open-ledger.js';
import { isSecretRef, resolveSecretRefAsync } from '../../core/secrets.js';
import { stateFromOption } from './open-ledger.js';
import { DEMO_LAKE, DEMO_STATE } from '../demo-paths.js';

export interface ServeFlags {
  state: string;
  lake: string;
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
  const state = stateFromOption(flags.state);
  const lakeRoot = path.resolve(flags.lake);
  if (!isLedgerReference(state) && !existsSync(state)) {
    process.stderr.write(`serve: no ledger at ${state} yet; it is created now and fills when a run uses it (--state ${flags.state})\n`);
  }
  const ledger = await openLedger(state);
  const lake = await openLake(lakeRoot);
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  let dashboard;
  try {
    dashboard = await startDashboard({
      ledger,
      lake,
      host: flags.host,
      port: flags.port,
      token,
      ledgerLabel: isLedgerReference(flags.state) ? describeLedger(flags.state) : rel(state),
      lakeLabel: rel(lakeRoot),
      pollMs: flags.pollMs,
    });
  } catch (err) {
    lake.close();
    await ledger.close();
    throw err;
  }
  process.stdout.write(`sluice serve: ${dashboard.url}  (ledger ${isLedgerReference(flags.state) ? describeLedger(flags.state) : rel(state)}, lake ${rel(lakeRoot)}: ${lake.tables().map((t) => t.name).join(', ') || 'no Parquet yet'})\n`);
  if (token) process.stdout.write(`  open ${dashboard.url}?token=<the token> once in a browser; scrapers send Authorization: Bearer <token>\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await dashboard.close();
  lake.close();
  await ledger.close();
}
