/**
 * Framework mapping CSVs: typed paths, the one-to-one rules and their errors (file + row), and a
 * round trip of the seed's two examples (S3 access logs -> 4002, VPC flow logs -> 4001) on the
 * shared fixtures, checked with the OCSF schema validator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import { delimitedFormat, type DelimitedOptions } from '../../formats/delimited/index.js';
import { fixturePath, repoRoot } from '../../testing/repo-root.js';
import { aslMappingRows, aslMappingSpec, createAslCsvMapping, parseTypedPath } from './asl-mapping.js';
import { parseCsv } from './asl-csv.js';
import { MappingFailure } from './mapping.js';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent } from './validate.js';

const schema = loadOcsfSchema('1.1.0');
const examples = path.join(repoRoot(), 'examples', 'asl');

function writeMapping(rows: string[]): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sluice-asl-')), 'mapping.csv');
  writeFileSync(file, ['src_log_type,src_column_name,tgt_column,default_values', ...rows].join('\n'));
  return file;
}

function errorOf(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

async function mapFixture(fixture: string, format: DelimitedOptions, mappingFile: string, classUid: number, timestampFormat: string) {
  const mapping = createAslCsvMapping(mappingFile, { classUid, timestampFormat }, '1.1.0');
  async function* input() {
    yield readFileSync(fixture);
  }
  const events = [];
  for await (const batch of delimitedFormat(format).decode(input(), { object: { uri: fixture, key: 'k' }, idPrefix: 'p' }) as AsyncIterable<RecordBatch>) {
    assert.deepEqual(batch.rejects, []);
    for (const record of batch.records) {
      const event = mapping.map(record);
      assert.ok(!(event instanceof MappingFailure), event instanceof MappingFailure ? event.reason : '');
      events.push(event);
    }
  }
  return events;
}

describe('ASL mapping CSV', () => {
  it('reads typed paths as the seed writes them', () => {
    assert.deepEqual(parseTypedPath('metadata:object.product:object.version:string'), { path: 'metadata.product.version', type: 'string', written: 'string' });
    assert.deepEqual(parseTypedPath('time:timestamp'), { path: 'time', type: 'timestamp', written: 'timestamp' });
    assert.deepEqual(parseTypedPath('traffic:object.bytes:bigint'), { path: 'traffic.bytes', type: 'long', written: 'bigint' });
    assert.match(parseTypedPath('traffic.bytes:bigint') as string, /segment "traffic" should be name:type/);
    assert.match(parseTypedPath('traffic:string.bytes:bigint') as string, /must be object/);
    assert.match(parseTypedPath('traffic:object.bytes:money') as string, /unknown type "money" \(expected one of string/);
    assert.match(parseTypedPath('traffic:object') as string, /names a whole object/);
    assert.match(parseTypedPath('observables:array<object>') as string, /not supported/);
  });

  it('names the file and row of every problem at once: malformed paths, unknown types, one-to-many, many-to-one, expressions', () => {
    const file = writeMapping([
      'fw,a,traffic.bytes:bigint,',
      'fw,b,traffic:object.bytes:money,',
      'fw,c,src_endpoint:object.port:int,',
      'fw,c,dst_endpoint:object.port:int,',
      'fw,d,src_endpoint:object.port:int,',
      'fw,"case when x then y end",status_code:string,',
      'fw,,severity_id:int,high',
    ]);
    const err = errorOf(() => aslMappingSpec(aslMappingRows(parseCsv(readFileSync(file, 'utf8'), file), file), file, { classUid: 4001 }));
    assert.equal(err.code, 'ASL_MAPPING_INVALID');
    assert.ok(err.message.includes(file));
    for (const expected of [
      /row 2: tgt_column "traffic.bytes:bigint" is not a typed path/,
      /row 3: tgt_column "traffic:object.bytes:money": unknown type "money"/,
      /row 5: source column "c" is already mapped on row 4; one-to-many mappings are not supported/,
      /row 6: src_endpoint.port is already set on row 4; many-to-one mappings are not supported/,
      /row 7: src_column_name "case when x then y end" is an expression; conditional and computed mappings are not supported/,
      /row 8: default_values "high" is not an integer/,
    ]) assert.match(err.message, expected);
  });

  it('rejects a target the class does not have with its row (what `sluice validate` reports)', () => {
    const file = writeMapping(['fw,bytes,traffic:object.bytes:bigint,', 'fw,color,traffic:object.colour:string,', 'fw,,metadata:object.product:object.flavour:string,x']);
    const err = errorOf(() => createAslCsvMapping(file, { classUid: 4001 }, '1.1.0'));
    assert.match(err.message, /row 3: network_traffic \(at traffic\) has no attribute "colour"|row 3: .*has no attribute "colour"/);
    const constants = writeMapping(['fw,bytes,traffic:object.bytes:bigint,', 'fw,,metadata:object.product:object.flavour:string,x']);
    assert.match(errorOf(() => createAslCsvMapping(constants, { classUid: 4001 }, '1.1.0')).message, /row 3: .*has no attribute "flavour"/);
  });

  it('needs a log type when the file holds several, and a class id', () => {
    const file = writeMapping(['a,x,status_code:string,', 'b,x,status_code:string,']);
    assert.match(errorOf(() => createAslCsvMapping(file, { classUid: 4001 }, '1.1.0')).message, /several src_log_type values \(a, b\)/);
    assert.ok(createAslCsvMapping(file, { classUid: 4001, logType: 'b' }, '1.1.0'));
  });

  it('a timestamp that does not match its pattern fails that record with the field, the value and the expected form', () => {
    const file = writeMapping(['fw,when,time:timestamp,']);
    const mapping = createAslCsvMapping(file, { classUid: 4001, timestampFormat: 'dd/MMM/yyyy:HH:mm:ss Z' }, '1.1.0');
    const failure = mapping.map({ id: 'p-1', origin: { object: 'x', line: 1 }, fields: { when: '2024-01-02' } });
    assert.ok(failure instanceof MappingFailure);
    assert.match(failure.reason, /field "when" "2024-01-02" does not match the timestamp format "dd\/MMM\/yyyy:HH:mm:ss Z" \(expected a time like dd\/MMM\/yyyy:HH:mm:ss Z; .*row 2\)/);
  });

  it('round trip: the seed\'s S3 access log example (examples/asl/s3access-mapping.csv) on the AWS doc records is valid HTTP Activity', async () => {
    const rows = aslMappingRows(parseCsv(readFileSync(path.join(examples, 's3access-mapping.csv'), 'utf8'), 's3access-mapping.csv'), 's3access-mapping.csv');
    const { columns } = aslMappingSpec(rows, 's3access-mapping.csv', { classUid: 4002 });
    const events = await mapFixture(
      fixturePath('aws-docs', 's3access', 'logformat-5-records.log'),
      { delimiter: ' ', brackets: true, columns },
      path.join(examples, 's3access-mapping.csv'),
      4002,
      'dd/MMM/yyyy:HH:mm:ssZZZZ',
    );
    assert.equal(events.length, 5);
    for (const event of events) assert.deepEqual(validateOcsfEvent(event, schema), []);
    const first = events[0] as Record<string, any>;
    assert.equal(first.time, Date.UTC(2019, 1, 6, 0, 0, 38));
    assert.equal(first.type_uid, 400299);
    assert.equal(first.http_response.code, 200);
    assert.equal(first.src_endpoint.ip, '192.0.2.3');
    assert.equal(first.api.operation, 'REST.GET.VERSIONING');
    assert.deepEqual(first.metadata.product, { name: 'Amazon S3', vendor_name: 'AWS', feature: { name: 'Server Access Logs' } });
    assert.equal(first.unmapped.request_uri, 'GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1');
  });

  it('round trip: the VPC flow example on the AWS doc records is valid Network Activity (NODATA/SKIPDATA lack dst_endpoint)', async () => {
    const events = await mapFixture(
      fixturePath('aws-docs', 'vpcflow', 'v2-default-examples.with-header.log'),
      { delimiter: ' ', header: true },
      path.join(examples, 'vpcflow-mapping.csv'),
      4001,
      'epoch',
    );
    assert.equal(events.length, 7);
    for (const event of events as Array<Record<string, any>>) {
      const gaps = event.status_code === 'OK' ? [] : ['dst_endpoint', 'src_endpoint'];
      assert.deepEqual(validateOcsfEvent(event, schema, { allowMissing: gaps }), []);
    }
    const ok = (events as Array<Record<string, any>>).find((e) => e.status_code === 'OK')!;
    assert.equal(ok.time % 1000, 0);
    assert.ok(ok.time > 1e12, 'epoch seconds became milliseconds');
    assert.equal(typeof ok.traffic.bytes, 'number');
    assert.equal(ok.type_uid, 400106);
  });
});
