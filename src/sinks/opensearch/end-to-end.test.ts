/**
 * The example pipeline end to end: generated flow logs in a folder -> runPipeline (worker
 * threads) -> the opensearch sink -> the bulk-API test server with basic auth (password from
 * env:), transient item errors and a known set of documents it refuses for good. Exact
 * accounting: every record is indexed exactly once by _id or sits in the dead letters under
 * runtime.deadLetters with the server's reason, the refused set is exactly the dead-letter set,
 * and `sluice status` shows the counts. Then the same with the cluster down at the start of the
 * run: units fail and are retried by the ledger, nothing is dead-lettered for it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectStatus } from '../../cli/commands/status.js';
import { checkPipeline } from '../../cli/commands/validate.js';
import { loadPipelineFile } from '../../pipeline/config.js';
import { writeFlowLogObjects } from '../../demo/flow-log-generator.js';
import { buildDemoInventory } from '../../demo/inventory.js';
import { openSqliteLedger } from '../../runtime/ledger/sqlite.js';
import { runPipeline } from '../../runtime/run-pipeline.js';
import { startBulkServer, type RunningBulkServer } from '../../testing/bulk-server.js';

const OBJECTS = 4;
const LINES = 1_500;

interface DeadLetter {
  object: string;
  line: number;
  code: string;
  reason: string;
  stage: string;
  sink?: string;
  record?: { id: string; fields: Record<string, unknown> };
}

function readDeadLetters(dir: string): DeadLetter[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.rejected.ndjson'));
  } catch {
    return [];
  }
  return names.flatMap((n) =>
    readFileSync(path.join(dir, n), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as DeadLetter),
  );
}

describe('flows -> opensearch, end to end', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-os-e2e-'));
  let es: RunningBulkServer;
  /** Ids the server refused for good (it refuses the same documents every time). */
  const refused = new Set<string>();
  let generated = 0;
  const savedPassword = process.env['OS_PASSWORD'];

  before(async () => {
    const written = await writeFlowLogObjects({
      dir: path.join(tmp, 'logs'),
      inventory: buildDemoInventory(3),
      seed: 3,
      objects: OBJECTS,
      linesPerObject: LINES,
      start: new Date('2024-05-01T23:30:00Z'),
      format: 'v2',
    });
    generated = written.records;
    es = await startBulkServer({
      auth: { username: 'admin', password: 'Pr0per-Secret!' },
      faults: { seed: 21, itemFaults: { 429: 0.03 } },
      // A "mapping error" for a deterministic slice of documents.
      rejectDocument: ({ id, source }) => {
        if (Number(source['srcport']) % 89 !== 7) return undefined;
        refused.add(id);
        return 'failed to parse field [srcport] of type [short]: value out of range';
      },
    });
    process.env['OS_PASSWORD'] = 'Pr0per-Secret!';
  });

  after(async () => {
    await es.stop();
    rmSync(tmp, { recursive: true, force: true });
    if (savedPassword === undefined) delete process.env['OS_PASSWORD'];
    else process.env['OS_PASSWORD'] = savedPassword;
  });

  it('validates, runs, and accounts for every record exactly', async () => {
    // Prepare: the example, verbatim but for the server's port
    const file = path.join(tmp, 'pipeline.yaml');
    writeFileSync(
      file,
      `name: flows-to-opensearch
source: { uri: ./logs }
format: vpcflow
sinks:
  - type: opensearch
    url: ${es.url}
    index: "flows-%Y.%m.%d"
    auth: { username: admin, password: "env:OS_PASSWORD" }
runtime: { state: ./.sluice/state.db, deadLetters: ./.sluice/dead }
`,
    );
    const config = loadPipelineFile(file);
    assert.deepEqual(checkPipeline(config, file), [], 'sluice validate accepts it');
    // The same with the password written in the file is refused, naming the place, not the value.
    const literal = path.join(tmp, 'literal.yaml');
    writeFileSync(literal, readFileSync(file, 'utf8').replace('"env:OS_PASSWORD"', '"Pr0per-Secret!"'));
    const problems = checkPipeline(loadPipelineFile(literal), literal);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /literal\.yaml: sinks\.0\.auth\.password: the password is written literally: write it as a reference/);
    assert.ok(!problems[0]!.includes('Pr0per-Secret!'));

    // Act
    const report = await runPipeline(config);

    // Assess: the run
    assert.equal(report.units.done, OBJECTS);
    assert.equal(report.records.in, generated);
    assert.equal(report.records.in, report.records.out + report.records.rejected + report.records.filtered);
    // Assess: the cluster holds every delivered record once, in the index of its day
    const ids = es.idCounts();
    assert.ok([...ids.values()].every((n) => n === 1), 'no _id indexed twice');
    assert.equal(es.documents.size, report.records.out);
    const indices = new Set([...es.documents.keys()].map((k) => k.slice(0, k.indexOf('/'))));
    assert.deepEqual([...indices].sort(), ['flows-2024.05.01', 'flows-2024.05.02']);
    // Assess: the dead letters are exactly what the server refused, with its reason
    const dead = readDeadLetters(path.join(tmp, '.sluice', 'dead'));
    const deadIds = new Set(dead.map((d) => d.record?.id));
    assert.ok(refused.size > 0, 'the test refuses some documents');
    assert.deepEqual(deadIds, refused);
    assert.equal(dead.length, report.records.rejected);
    for (const d of dead) {
      assert.equal(d.stage, 'sink');
      assert.equal(d.sink, 'opensearch');
      assert.equal(d.code, 'SINK_ITEM_400');
      assert.match(d.reason, /^HTTP 400 mapper_parsing_exception: failed to parse field \[srcport\]/);
      assert.ok(!ids.has(d.record!.id), 'a dead letter is not also indexed');
    }
    assert.equal(es.documents.size + dead.length, generated, 'indexed + dead-lettered = everything read');
    // Assess: `sluice status` sees it
    const ledger = openSqliteLedger(config.runtime.state);
    try {
      const status = await collectStatus(ledger, config.name);
      assert.equal(status.units['done'], OBJECTS);
      const summary = status.runs[0]!.summary as { records: { in: number; out: number; rejected: number } };
      assert.deepEqual(summary.records, { ...summary.records, in: generated, out: es.documents.size, rejected: refused.size });
    } finally {
      await ledger.close();
    }
    // Assess: the password is nowhere in the report
    assert.ok(!JSON.stringify(report).includes('Pr0per-Secret!'));
  });

  it('a full reload overwrites by _id: still one document per record', async () => {
    const config = loadPipelineFile(path.join(tmp, 'pipeline.yaml'));
    const before = es.documents.size;
    const report = await runPipeline(config, { fullLoad: true });
    assert.equal(report.units.done, OBJECTS);
    assert.equal(es.documents.size, before);
    assert.ok([...es.idCounts().values()].every((n) => n === 1));
    assert.ok([...es.writes.values()].every((n) => n === 2), 'every document written once per run');
  });

  it('a cluster that is down when the run starts: units fail retryably and are retried, nothing is dead-lettered for it', async () => {
    // Prepare: a second pipeline with a short sink retry budget, and the cluster down
    const file = path.join(tmp, 'pipeline-down.yaml');
    writeFileSync(
      file,
      `name: flows-cluster-down
source: { uri: ./logs }
format: vpcflow
sinks:
  - type: opensearch
    url: ${es.url}
    index: "down-%Y.%m.%d"
    auth: { username: admin, password: "env:OS_PASSWORD" }
    retry: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 }
runtime: { state: ./.sluice/state.db, deadLetters: ./.sluice/dead-down, maxAttempts: 20, backoffMs: 100, maxBackoffMs: 300 }
`,
    );
    const config = loadPipelineFile(file);
    refused.clear();
    await es.pause();
    let failures = 0;
    // Act: the cluster comes back once a unit has failed for it
    const report = await runPipeline(config, {
      events: {
        onUnitFailed(_lease, error, outcome) {
          assert.equal(outcome, 'retry');
          assert.equal(error.code, 'SINK_UNREACHABLE');
          if (++failures === 1) void es.resume();
        },
      },
    });
    // Assess
    assert.equal(report.units.done, OBJECTS);
    assert.ok(report.units.retried > 0, 'units failed while the cluster was down and were retried');
    assert.equal(report.units.dead, 0);
    const dead = readDeadLetters(path.join(tmp, '.sluice', 'dead-down'));
    // Dead letters: the refused documents, plus any that drew a transient 429 on each of its 3 sends.
    for (const d of dead) {
      const id = d.record!.id;
      if (refused.has(id)) assert.equal(d.code, 'SINK_ITEM_400');
      else {
        assert.equal(d.code, 'SINK_ITEM_RETRIES_EXHAUSTED', `${id}: ${d.reason}`);
        assert.match(d.reason, /^HTTP 429 es_rejected_execution_exception: .*gave up after 3 attempts/);
        const key = [...es.attempts.keys()].find((k) => k.startsWith('down-') && k.endsWith(`/${id}`));
        assert.equal(es.attempts.get(key!), 3);
      }
    }
    const deadIds = new Set(dead.map((d) => d.record!.id));
    assert.ok([...refused].every((id) => deadIds.has(id)), 'every refused document is a dead letter');
    assert.ok(dead.every((d) => d.code !== 'SINK_UNREACHABLE'), 'the outage itself dead-lettered nothing');
    const downDocs = [...es.documents.keys()].filter((k) => k.startsWith('down-'));
    assert.equal(downDocs.length + dead.length, generated);
  });
});
