/**
 * The PostgreSQL ledger against the real server on this machine (127.0.0.1:5432, user postgres,
 * database test). Each run works in its own schema, dropped at the end; the tests fail, never
 * skip, when the server is not there.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SluiceError } from '../../core/errors.js';
import { createFakeClock } from '../../testing/fake-clock.js';
import { runLedgerConformance } from '../../testing/ledger-conformance.js';
import type { Source } from '../../core/component.js';
import type { ObjectRef } from '../../core/record.js';
import { planObjectUnits } from '../plan/planner.js';
import { describeLedger, openLedger } from './open-ledger.js';
import { maskConnectionUrl, migratePostgresLedger, openPostgresLedger, POSTGRES_LEDGER_MIGRATIONS, POSTGRES_LEDGER_SCHEMA_VERSION } from './postgres.js';
import type { UnitSpec } from './types.js';
import { unitIdFor } from './unit-id.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432/test';
const runTag = randomBytes(4).toString('hex');
const schemas: string[] = [];
/** A schema name of this test run; every one is dropped after the run. */
function freshSchema(label: string): string {
  const schema = `sluice_test_${runTag}_${label}`;
  schemas.push(schema);
  return schema;
}
const conformanceSchema = freshSchema('conformance');

const admin = new pg.Pool({ connectionString: SERVER, max: 2 });
admin.on('error', () => undefined);

before(async () => {
  // Fails the whole file (rather than skipping it) when PostgreSQL is not reachable.
  await admin.query('SELECT 1');
});

after(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

function specs(pipeline: string, count: number, prefix = 'obj'): UnitSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const key = `AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/${prefix}-${String(i).padStart(7, '0')}.log.gz`;
    return { id: unitIdFor(pipeline, 'object', key), pipeline, kind: 'object', key, payload: { key }, size: 1000 };
  });
}

const ONE_RECORD = { recordsIn: 1, recordsOut: 1, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 1 };

runLedgerConformance('postgres', async (clock) => openPostgresLedger(SERVER, { clock: clock.now, schema: conformanceSchema, poolSize: 20 }));

describe('postgres ledger', () => {
  it('applies each migration once when several processes open a fresh schema at once, and refuses a newer schema', async () => {
    // Prepare
    const schema = freshSchema('migrate');

    // Act: ten ledgers (ten pools) racing on the same fresh schema
    const ledgers = await Promise.all(Array.from({ length: 10 }, () => openPostgresLedger(SERVER, { schema, poolSize: 1 })));
    await Promise.all(ledgers.map((l) => l.close()));
    const again = await migratePostgresLedger(`${SERVER}?schema=${schema}`);
    const versions = await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`, [POSTGRES_LEDGER_SCHEMA_VERSION + 1]);
    const newer = openPostgresLedger(SERVER, { schema });

    // Assess
    assert.deepEqual(versions.rows.map((r) => r.version), Array.from({ length: POSTGRES_LEDGER_SCHEMA_VERSION }, (_, i) => i + 1));
    assert.deepEqual(again.applied, []);
    assert.equal(again.version, POSTGRES_LEDGER_SCHEMA_VERSION);
    await assert.rejects(newer, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_SCHEMA_TOO_NEW' && err.message.includes(schema));
  });

  it('migrates a version 1 schema keeping every unit, and the next plan supersedes the dead older version', async () => {
    // Prepare: a schema as Sluice left it before superseded versions: an object that died, was
    // replaced, and whose new version is done; beside it an unrelated pending unit.
    const schema = freshSchema('v1');
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`CREATE TABLE "${schema}".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const first = POSTGRES_LEDGER_MIGRATIONS[0]!;
    await admin.query(first.sql(`"${schema}"`));
    await admin.query(`INSERT INTO "${schema}".schema_migrations VALUES ($1, $2, 0)`, [first.version, first.name]);
    const key = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/replaced.log.gz';
    const [deadId, doneId, otherId] = [unitIdFor('flows', 'object', key, '10-1'), unitIdFor('flows', 'object', key, '20-2'), unitIdFor('flows', 'object', 'other.log.gz', '5-5')];
    const insert = `INSERT INTO "${schema}".units (id, pipeline, kind, key, payload, size, state, attempts, token, last_error, records_in, outputs, created_at, updated_at)
      VALUES ($1, 'flows', 'object', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
    await admin.query(insert, [deadId, key, { objects: [{ key, etag: '10-1' }] }, 10, 'dead', 1, 1, { message: `${key}: unexpected end of file`, code: 'CORRUPT_GZIP' }, 0, '[]', 1_000, 2_000]);
    await admin.query(insert, [doneId, key, { objects: [{ key, etag: '20-2' }] }, 20, 'done', 1, 1, null, 7, '["out/replaced.ndjson.gz"]', 3_000, 4_000]);
    await admin.query(insert, [otherId, 'other.log.gz', {}, 5, 'pending', 0, 0, null, 0, '[]', 3_000, 3_000]);

    // Act
    const ledger = await openPostgresLedger(SERVER, { schema, clock: () => 9_000 });
    try {
      const migratedCounts = await ledger.counts('flows');
      const migratedDead = await ledger.getUnit(deadId);
      const planned = await ledger.planUnits([{ id: doneId, pipeline: 'flows', kind: 'object', key, payload: {}, size: 20 }]);
      const afterPlan = await ledger.counts('flows');
      const superseded = await ledger.getUnit(deadId);
      const versions = await admin.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);

      // Assess
      assert.deepEqual(migratedCounts, { pending: 1, leased: 0, done: 1, failed: 0, dead: 1, superseded: 0 });
      assert.deepEqual([migratedDead?.state, migratedDead?.lastError?.code, migratedDead?.supersededBy, migratedDead?.updatedAt], ['dead', 'CORRUPT_GZIP', null, 2_000]);
      assert.deepEqual(planned, { inserted: 0, existing: 1, superseded: 1 });
      assert.deepEqual(afterPlan, { pending: 1, leased: 0, done: 1, failed: 0, dead: 0, superseded: 1 });
      assert.deepEqual([superseded?.state, superseded?.supersededBy, superseded?.updatedAt], ['superseded', doneId, 9_000]);
      assert.deepEqual(versions.rows.map((r) => r.version), Array.from({ length: POSTGRES_LEDGER_SCHEMA_VERSION }, (_, i) => i + 1));
      await assert.rejects(
        admin.query(`UPDATE "${schema}".units SET state = 'lost' WHERE id = $1`, [otherId]),
        /units_state_check/,
        'the new CHECK still refuses unknown states',
      );
    } finally {
      await ledger.close();
    }
  });

  it('keeps its tables in its own schema, and reading commands do not create one', async () => {
    // Prepare
    const schema = freshSchema('own');
    const missing = freshSchema('missing');

    // Act
    const ledger = await openLedger(`${SERVER}?schema=${schema}`);
    await ledger.planUnits(specs('flows', 3));
    await ledger.close();
    const tables = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema]);
    const reading = openLedger(`${SERVER}?schema=${missing}`, { mustExist: true });

    // Assess
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['runs', 'schema_migrations', 'units', 'workers']);
    await assert.rejects(reading, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_NOT_FOUND');
    const created = await admin.query('SELECT to_regnamespace($1) AS ns', [missing]);
    assert.equal(created.rows[0].ns, null, 'status-like opening created no schema');
  });

  it('opens through an env: reference, and names an unreachable database without its password', async () => {
    // Prepare
    const schema = freshSchema('ref');
    process.env.SLUICE_TEST_LEDGER_URL = `${SERVER}?schema=${schema}`;
    const closedPort = await unusedPort();
    const withPassword = `postgres://sluice:hunter2-secret@127.0.0.1:${closedPort}/ledger`;

    // Act
    const viaRef = await openLedger('env:SLUICE_TEST_LEDGER_URL');
    const planned = await viaRef.planUnits(specs('flows', 2));
    await viaRef.close();
    const unreachable = await openLedger(withPassword, { postgres: { connectTimeoutMs: 2_000 } }).then(
      () => assert.fail('opened a ledger on a closed port'),
      (err: unknown) => err,
    );

    // Assess
    assert.deepEqual(planned, { inserted: 2, existing: 0, superseded: 0 });
    assert.ok(unreachable instanceof SluiceError);
    assert.equal(unreachable.code, 'LEDGER_UNREACHABLE');
    assert.match(unreachable.message, new RegExp(`postgres://sluice:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/ledger`));
    assert.doesNotMatch(`${unreachable.describe()} ${String(unreachable.stack)}`, /hunter2/);
    assert.equal(describeLedger(withPassword), `postgres://sluice:***@127.0.0.1:${closedPort}/ledger`);
    assert.equal(maskConnectionUrl('postgres://u@h/db?password=hunter2'), 'postgres://u@h/db?password=***');
  });

  it('inserts units once when two planners race over the same listing', async () => {
    // Prepare
    const schema = freshSchema('race');
    const [a, b] = await Promise.all([openPostgresLedger(SERVER, { schema }), openPostgresLedger(SERVER, { schema })]);
    const source = fakeSource(20_000, 1_000);

    // Act
    const [first, second] = await Promise.all([
      planObjectUnits({ ledger: a, source, pipeline: 'race' }),
      planObjectUnits({ ledger: b, source, pipeline: 'race' }),
    ]);

    // Assess
    assert.equal(first.total, 20_000);
    assert.equal(second.total, 20_000);
    assert.equal(first.inserted + second.inserted, 20_000, 'each unit inserted by exactly one planner');
    assert.deepEqual(await a.counts('race'), { pending: 20_000, leased: 0, done: 0, failed: 0, dead: 0, superseded: 0 });
    await a.close();
    await b.close();
  });

  it('never leases a unit twice across ledgers that race on one database, and fences across them', async () => {
    // Prepare
    const schema = freshSchema('fleet');
    const clock = createFakeClock();
    const ledgers = await Promise.all(Array.from({ length: 4 }, () => openPostgresLedger(SERVER, { schema, clock: clock.now, poolSize: 4 })));
    await ledgers[0]!.planUnits(specs('fleet', 400));
    const leasedBy = new Map<string, string>();

    // Act: sixteen workers over four pools
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        const ledger = ledgers[worker % 4]!;
        for (;;) {
          const lease = await ledger.leaseNextUnit('fleet', `worker-${worker}`, 60_000);
          if (!lease) return;
          assert.equal(leasedBy.has(lease.unitId), false, `unit ${lease.unit.key} leased twice`);
          leasedBy.set(lease.unitId, lease.owner);
          assert.equal(await ledger.completeUnit(lease, ONE_RECORD), true);
        }
      }),
    );
    await ledgers[0]!.planUnits(specs('fencing', 1));
    const stale = (await ledgers[0]!.leaseNextUnit('fencing', 'frozen', 1_000))!;
    clock.advance(1_001);
    const takeover = await ledgers[1]!.leaseNextUnit('fencing', 'worker-b', 1_000);
    const staleCompleted = await ledgers[0]!.completeUnit(stale, ONE_RECORD);

    // Assess
    assert.equal(leasedBy.size, 400);
    assert.ok(new Set(leasedBy.values()).size >= 8, 'the workers shared the units');
    assert.deepEqual(await ledgers[2]!.counts('fleet'), { pending: 0, leased: 0, done: 400, failed: 0, dead: 0, superseded: 0 });
    assert.ok(takeover && takeover.token === stale.token + 1);
    assert.equal(staleCompleted, false);
    await Promise.all(ledgers.map((l) => l.close()));
  });

  it('claims through the partial index, not by scanning finished units', async () => {
    // Prepare
    const schema = freshSchema('plan');
    const ledger = await openPostgresLedger(SERVER, { schema });
    await ledger.planUnits(specs('indexed', 2_000));
    await admin.query(`ANALYZE "${schema}".units`);

    // Act
    const client = await admin.connect();
    let plan: string;
    try {
      await client.query('SET enable_seqscan = off');
      const explained = await client.query(
        `EXPLAIN SELECT c.id FROM "${schema}".units AS c
         WHERE c.pipeline = 'indexed' AND c.state IN ('pending', 'failed', 'leased')
           AND (c.state = 'pending' OR (c.state = 'failed' AND c.next_attempt_at <= 0) OR (c.state = 'leased' AND c.lease_expires_at < 0))
         ORDER BY c.key, c.id LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      plan = explained.rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      client.release();
      await ledger.close();
    }

    // Assess
    assert.match(plan, /Index Scan using units_claimable/);
    assert.doesNotMatch(plan, /Sort/);
  });

  it('keeps working through a lost connection: operations wait for the database and commit once', async () => {
    // Prepare: the ledger talks to PostgreSQL through a proxy the test can cut
    const schema = freshSchema('outage');
    const proxy = await startProxy(5432);
    const lost: string[] = [];
    const ledger = await openPostgresLedger(`postgres://postgres@127.0.0.1:${proxy.port}/test`, {
      schema,
      poolSize: 2,
      connectTimeoutMs: 1_000,
      reconnectWithinMs: 30_000,
      onConnectionLost: (e) => lost.push(e.action),
    });
    await ledger.planUnits(specs('outage', 3));
    const first = (await ledger.leaseNextUnit('outage', 'worker-1', 60_000))!;

    // Act: the database goes away, operations are issued, then it comes back
    proxy.cut();
    const completing = ledger.completeUnit(first, ONE_RECORD);
    const leasing = ledger.leaseNextUnit('outage', 'worker-1', 60_000);
    const heartbeat = ledger.renewLease(first, 60_000).then(
      () => 'renewed',
      (err: unknown) => (err instanceof SluiceError ? err.code : 'other'),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    proxy.restore();
    const [completed, second] = await Promise.all([completing, leasing]);

    // Assess
    assert.equal(await heartbeat, 'LEDGER_UNREACHABLE', 'a heartbeat fails at once: the next beat is its retry');
    assert.ok(lost.length >= 2, `connection losses reported: ${lost.join(', ')}`);
    assert.equal(completed, true);
    assert.ok(second && second.unitId !== first.unitId);
    const unit = await ledger.getUnit(first.unitId);
    assert.equal(unit?.state, 'done');
    assert.equal(unit?.token, first.token, 'committed once, under the first lease');
    await ledger.close();
    await proxy.close();
  });

  it('gives up on a lost database after reconnectWithinMs with a masked, retryable error', async () => {
    // Prepare
    const schema = freshSchema('giveup');
    const proxy = await startProxy(5432);
    const ledger = await openPostgresLedger(`postgres://postgres:pw-never-shown@127.0.0.1:${proxy.port}/test`, {
      schema,
      poolSize: 1,
      connectTimeoutMs: 500,
      reconnectWithinMs: 800,
    });

    // Act
    proxy.cut();
    const counting = ledger.counts('nothing').then(
      () => assert.fail('counted without a database'),
      (err: unknown) => err,
    );

    // Assess
    const err = await counting;
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'LEDGER_UNREACHABLE');
    assert.equal(err.retryable, true);
    assert.match(err.message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(err.message, /pw-never-shown/);
    await ledger.close();
    await proxy.close();
  });

  it('stores error messages holding NUL characters, and refuses durations that would strand a unit', async () => {
    // Prepare
    const schema = freshSchema('args');
    const ledger = await openPostgresLedger(SERVER, { schema });
    await ledger.planUnits(specs('args', 2));
    const lease = (await ledger.leaseNextUnit('args', 'w', 60_000))!;

    // Act
    const nanLease = ledger.leaseNextUnit('args', 'w', Number.NaN);
    const infiniteBackoff = ledger.failUnit(lease, { message: 'x', code: 'X', stage: 'read', retryable: true }, {
      maxAttempts: 5,
      backoffMs: Number.POSITIVE_INFINITY,
      maxBackoffMs: Number.POSITIVE_INFINITY,
      retryable: true,
    });
    const badList = ledger.listUnits('args', { limit: -1 });
    await assert.rejects(nanLease, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_BAD_ARGUMENT');
    await assert.rejects(infiniteBackoff, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_BAD_ARGUMENT');
    await assert.rejects(badList, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_BAD_QUERY');
    const outcome = await ledger.failUnit(lease, { message: 'bad bytes \u0000\u0001 here \\u0000', code: 'DECODE', stage: 'decode', retryable: false }, {
      maxAttempts: 5,
      backoffMs: 10,
      maxBackoffMs: 10,
      retryable: false,
    });

    // Assess
    assert.equal(outcome, 'dead');
    assert.equal((await ledger.getUnit(lease.unitId))?.lastError?.message, 'bad bytes \ufffd\u0001 here \\u0000');
    await ledger.close();
  });
});

/** A source listing `count` synthetic keys in pages of `pageSize`, like an S3 prefix would. */
function fakeSource(count: number, pageSize: number): Source {
  return {
    root: 's3://fake/prefix',
    async *list() {
      for (let start = 0; start < count; start += pageSize) {
        const page: ObjectRef[] = [];
        for (let i = start; i < Math.min(count, start + pageSize); i++) {
          const key = `AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/obj-${String(i).padStart(8, '0')}.log.gz`;
          page.push({ uri: `s3://fake/${key}`, key, size: 4_000_000, etag: `"${i.toString(16)}"` } as ObjectRef);
        }
        yield page;
      }
    },
    async open() {
      throw new Error('not used');
    },
  };
}

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP proxy to PostgreSQL whose connections the test can cut (and refuse) and then allow again. */
async function startProxy(targetPort: number): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

