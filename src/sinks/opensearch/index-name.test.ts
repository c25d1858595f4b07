import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../core/errors.js';
import { compileIndexTemplate } from './index-name.js';

describe('compileIndexTemplate', () => {
  it('fills %Y %m %d %H %j from the UTC event time', () => {
    const at = Date.UTC(2024, 1, 29, 23, 59, 59, 999);
    assert.equal(compileIndexTemplate('flows-%Y.%m.%d').nameFor(at), 'flows-2024.02.29');
    assert.equal(compileIndexTemplate('flows-%Y.%m.%d.%H').nameFor(at), 'flows-2024.02.29.23');
    assert.equal(compileIndexTemplate('flows-%Y-%j').nameFor(at), 'flows-2024-060');
    assert.equal(compileIndexTemplate('100%%-%Y').nameFor(at), '100%-2024');
  });

  it('a fixed name needs no time; a dated one returns undefined without it', () => {
    const fixed = compileIndexTemplate('logs-flows');
    assert.equal(fixed.timed, false);
    assert.equal(fixed.nameFor(undefined), 'logs-flows');
    const dated = compileIndexTemplate('flows-%Y.%m.%d');
    assert.equal(dated.timed, true);
    assert.equal(dated.nameFor(undefined), undefined);
    assert.equal(dated.nameFor(Number.NaN), undefined);
  });

  it('rejects unknown directives at configuration time', () => {
    assert.throws(() => compileIndexTemplate('flows-%Y.%b'), (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /%b/.test(err.message));
    assert.throws(() => compileIndexTemplate('flows-%'), /unknown directive/);
  });

  it('the cached names always equal a fresh rendering, in any time order', () => {
    const reference = (t: number) => {
      const d = new Date(t);
      const p = (n: number, w = 2) => String(n).padStart(w, '0');
      return `f-${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}.${p(d.getUTCHours())}`;
    };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 200 }), (times) => {
        const namer = compileIndexTemplate('f-%Y.%m.%d.%H');
        return times.every((t) => namer.nameFor(t) === reference(t));
      }),
    );
  });
});
