import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { loadPipelineFile, parsePipeline } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { enrichTransformSchema } from './config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-enrich-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pipelineWith(tables: unknown): unknown {
  return {
    name: 'p',
    source: { uri: './logs' },
    format: 'vpcflow',
    transforms: [{ type: 'enrich', tables }],
    sinks: [{ type: 'files', path: './out' }],
  };
}

function assertInvalid(tables: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => parsePipeline(pipelineWith(tables), 'pipeline.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      for (const pattern of patterns) assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('enrich config', () => {
  it("accepts the issue's example and resolves table paths against the pipeline file's folder", () => {
    // Prepare
    const file = path.join(tmp, 'pipeline.yaml');
    writeFileSync(
      file,
      [
        'name: vpc-to-lake',
        'source: { uri: ./logs }',
        'format: vpcflow',
        'transforms:',
        '  - type: enrich',
        '    tables:',
        '      interfaces: { file: ./tables/interfaces.csv, key: interface_id }',
        '      subnets:    { file: ./tables/subnets.csv, key: subnet_id, cidr: cidr }',
        '      vpcs:       { sql: "select vpc_id, vpc_name from vpcs", url: "env:INVENTORY_DB", key: vpc_id }',
        '      names:      { sql: "select * from names", url: "sqlite:./inventory.db", key: id }',
        '      hosts:      { sql: "select * from hosts", url: "inventory.db", cidr: [ip, ip6] }',
        'sinks:',
        '  - { type: files, path: ./out }',
        '',
      ].join('\n'),
    );
    // Act
    const config = loadPipelineFile(file);
    // Assess
    const enrich = config.transforms[0]!;
    assert.equal(enrich.type, 'enrich');
    if (enrich.type !== 'enrich') return;
    assert.equal(enrich.tables.interfaces!.file, path.join(tmp, 'tables', 'interfaces.csv'));
    assert.equal(enrich.tables.subnets!.cidr, 'cidr');
    assert.equal(enrich.tables.vpcs!.url, 'env:INVENTORY_DB', 'secret references stay references');
    assert.equal(enrich.tables.names!.url, `sqlite:${path.join(tmp, 'inventory.db')}`);
    assert.equal(enrich.tables.hosts!.url, path.join(tmp, 'inventory.db'));
    assert.deepEqual(Object.keys(enrich.tables), ['interfaces', 'subnets', 'vpcs', 'names', 'hosts'], 'table order is kept');
  });

  it('rejects a table with both or neither of file and sql, sql without url, or no key and no cidr', () => {
    assertInvalid({ t: { file: 'a.csv', sql: 'select 1', url: 'x.db', key: 'a' } }, /transforms\.0\.tables\.t: a table needs either `file` or `sql`/);
    assertInvalid({ t: { key: 'a' } }, /needs either `file` or `sql`/);
    assertInvalid({ t: { sql: 'select 1', key: 'a' } }, /`sql` needs `url`/);
    assertInvalid({ t: { file: 'a.csv' } }, /needs `key` \(exact lookups\), `cidr`/);
    assertInvalid({ t: { file: 'a.csv', cidr: 'c', on: 'x' } }, /`on` looks fields up against `key`/);
    assertInvalid({ t: { sql: 'select 1', url: 'x.db', key: 'a', format: 'csv' } }, /describe a `file`, not a query/);
    assertInvalid({}, /name at least one table/);
  });

  it('rejects unknown keys with a suggestion', () => {
    assertInvalid({ t: { file: 'a.csv', keys: 'a' } }, /transforms\.0\.tables\.t\.keys: unknown key \(did you mean "key"\?\)/);
  });

  it('describes every field, for `sluice validate` and editors', () => {
    // Prepare
    const schema = z.toJSONSchema(enrichTransformSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    const undocumented: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.properties && typeof n.properties === 'object') {
        for (const [key, child] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (key !== 'type' && typeof child.description !== 'string') undocumented.push(`${at}.${key}`);
          walk(child, `${at}.${key}`);
        }
      }
      for (const [key, child] of Object.entries(n)) if (key !== 'properties') walk(child, at);
    };
    // Act
    walk(schema, 'enrich');
    // Assess
    assert.deepEqual(undocumented, []);
  });
});
