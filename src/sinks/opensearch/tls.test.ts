/**
 * TLS options of the network sinks, against the bulk-API test server over HTTPS with a
 * self-signed certificate made for these tests only (CN and IP SAN 127.0.0.1, valid until 2126).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { UnitContext } from '../../core/component.js';
import { parsePipeline } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { accountDelivery, startBulkServer, type RunningBulkServer } from '../../testing/bulk-server.js';
import { createBulkSink, type BulkSinkConfig } from './index.js';

const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIDHDCCAgSgAwIBAgIUEGZ/6yGs/oI3KMKHhSo1EIOVt8kwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyNTAzMjAzOFoYDzIxMjYx
MTAxMDMyMDM4WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQCTkWcBl0Pk1mqNKUwUfxP5TVJ7Wp666prduST0GO7/
Mm7w1I8qu9Hk5oRQyUe+UBazwK19poRgoO5i4hfLOikfqBW7o98dJFTxzNmhQGYe
OcRCiE7Uo0dxQmhg+V0iZgXEZ3fmDHHw2tDBLVUuOxzyNAH9Rm9Wgsv3s1JO4eav
uiVZKNiXKRUpnrfqXrKmxVVEzUGT+xhb+JLiqSDL1CwYZWg5HFqI14kHojcwNJnm
dIuE6CvZYmweH58610CYsip9abfCLz/3nnfe7i+PXDLCP0tKAJjVQUgtCMsrps9u
1QalwHbTTeC1K6xYLLGPvIlJL1KJ44ioiFpAB2BSvPEFAgMBAAGjZDBiMB0GA1Ud
DgQWBBTyy71C627sDKgo/P3QP14o/iETBTAfBgNVHSMEGDAWgBTyy71C627sDKgo
/P3QP14o/iETBTAPBgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwDQYJ
KoZIhvcNAQELBQADggEBAEixyLKr5de6LNrNOC5xdH6MbohYNhGTuO7bTxhHKrop
BVxU9F6/NIFPhjcvyKNhKNuuxxk9KYK5faUtRzA9QSX2CdRBMLDIS5bOcsSieGCh
v5XNpMphFvCoTJsHrFk3mJqepxSLTAQ9+gfuj5zBRv1fv5HBMMAcwGw4OFCny0bB
aoN05EeB8RxhjQtDkrt9ikVzjz2Mu9+i4S7T5mOkOMxjkVCGJwtTUNHXXVR2mJPA
P6cQppCAwU2QqGJ640hADRuyk8D3KV0DaqH3llZnLE0lV/7CF6Enqd/sVpaq4ixB
bjgxm9NvomzcHMJOmre5CkMHt9ckWZVpqvg/4EaEWCQ=
-----END CERTIFICATE-----`;

/** The key of TEST_CERT: test data, it protects nothing. */
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCTkWcBl0Pk1mqN
KUwUfxP5TVJ7Wp666prduST0GO7/Mm7w1I8qu9Hk5oRQyUe+UBazwK19poRgoO5i
4hfLOikfqBW7o98dJFTxzNmhQGYeOcRCiE7Uo0dxQmhg+V0iZgXEZ3fmDHHw2tDB
LVUuOxzyNAH9Rm9Wgsv3s1JO4eavuiVZKNiXKRUpnrfqXrKmxVVEzUGT+xhb+JLi
qSDL1CwYZWg5HFqI14kHojcwNJnmdIuE6CvZYmweH58610CYsip9abfCLz/3nnfe
7i+PXDLCP0tKAJjVQUgtCMsrps9u1QalwHbTTeC1K6xYLLGPvIlJL1KJ44ioiFpA
B2BSvPEFAgMBAAECggEABOfYh3JX4iDz+dgIR3DSC9Tzi6uU4JyGpB2mNNcqBXcl
E6x9S0EN1pDd5TGhHkUwpq5zwLGVxQCUltpH9YxBbGP8v6LQT/pdOIyZejAsijoG
uY9+eg3ThNhdpUZPlPfUnpWHTtvVuIQNsd5SmUQtz39wcX2zRdT4ouC7ORQZbyNc
HbFyBoSr49DLoPLX7pQMGH90j+CcAphbUlRsfNQ+5zcXdgTfJE538ecTYVm5D/tv
nZcqENAgGMGLLlTE57szYM1wpJRXqOVVHrGy3hbjTsn3kqPZzR7Z3rhy9t+QU08w
mm99WWqY1fjsgyFWzAIBDGqqLCGFfWOy6TpccazHIQKBgQDF9yK4DquPHhozb4X7
GCrj2MsJvCIwabN/rpl2XoFrOhq/Efa+STnhebLzFMn5Zf4uGqNEI1cPokOmHb9r
2PM7mNs+75oyJD6rDJmCMsJsdyB0PTrp7ydkJxrJr4GMgb0/KajUrb+TF6V/NjX2
Wac/Du0EthgiDKBpePgGO8x+RwKBgQC+1A2uKvRPd2Idf7nn9Tmeor1QrPBDYP4w
9+32vDL7Dnfv/oe03TGtxxPu1ABvG1nl6VDaPXa7AmdCw3u4VTKBEPRzkmNcfE4s
OyAqaO2V/5yuttPjbRMdpmbB9Mxd2WjJzOxq5GMcWpNbqFOROM8iTjCb/alelxDz
9XETHRAAUwKBgFI/JvGJRsWjIAeWofd8RvV6sIBO5XVvtN+rTp7bDLHb5hjUAct0
6NNAmJRdYrx3H29QKdy5QgaAx9JQMaNA820jSJORQGLspAy0o2JwbE5b/+PLPJrM
fXUiugJpJE2X6WRAjqAtv5YBEQUVJL5A6TdNoDOA4+3hiRPI6mLMnV0pAoGAKoJE
VeL9r2IRui6EtDY9Uqg/8ePEVc4accAZA1ijJqfvccfKZTDM60AooZAaVKXMHdoe
h68fbsM3S3kOa16XNIcZXVFjzutl4pZ9MNVU75AUUBssEkJu+rDhvR0SFWnj3OhI
VftwVJWcs9NIYlY8VhEC5QzZmNegEChBuxdDRD8CgYBMf4Poc28mkPy+plUvTdDZ
ujqvLUcxHvxcZv+YU+11dZNMdd12qgFFuVpNtFFup2Pt3G3pmu5/5zLmj/+tPuUE
mW1RumJmuhsyBCe5IIaP2wSWI3Uv86sJNIr8SpT4pnZ67ASvsCQIWbWJqY4CJ64b
jBd6N/328FOjG1aPVYuAFQ==
-----END PRIVATE KEY-----`;

const unit: UnitContext = { id: 'u', outputStem: 'u', objects: [] };
const records = Array.from({ length: 20 }, (_, i) => ({ id: `t-${i}`, origin: { object: 'o', line: i + 1 }, time: Date.UTC(2024, 4, 1), fields: { i } }));

describe('opensearch sink over TLS', () => {
  let es: RunningBulkServer;
  let dir: string;
  before(async () => {
    es = await startBulkServer({ tls: { key: TEST_KEY, cert: TEST_CERT } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-tls-'));
    writeFileSync(path.join(dir, 'ca.pem'), TEST_CERT);
  });
  after(async () => {
    await es.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (tls: Record<string, unknown> | undefined) =>
    parsePipeline({ name: 't', source: { uri: '/tmp' }, format: 'vpcflow', sinks: [{ type: 'opensearch', url: es.url, index: 'tls', ...(tls ? { tls } : {}) }] }).sinks[0] as BulkSinkConfig;

  async function deliver(tls: Record<string, unknown> | undefined) {
    const sink = createBulkSink(config(tls));
    try {
      const writer = sink.openUnit(unit);
      await writer.write(records);
      return await writer.commit();
    } finally {
      await sink.close?.();
    }
  }

  it('trusts the server through tls.ca', async () => {
    const commit = await deliver({ ca: path.join(dir, 'ca.pem') });
    assert.equal(es.url.startsWith('https://'), true);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
  });

  it('refuses an untrusted certificate at once, saying what to do', async () => {
    await assert.rejects(deliver(undefined), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SINK_TLS_UNTRUSTED');
      assert.equal(err.retryable, false);
      assert.match(err.hint ?? '', /tls\.ca/);
      return true;
    });
  });

  it('accepts any certificate with insecureSkipVerify', async () => {
    const commit = await deliver({ insecureSkipVerify: true });
    assert.equal(commit.delivered, 20);
  });

  it('names an unreadable CA file when the sink is created', () => {
    assert.throws(() => createBulkSink(config({ ca: path.join(dir, 'missing.pem') })), /cannot read the CA file .*missing\.pem \(ENOENT\)/);
  });
});
