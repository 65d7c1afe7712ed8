// The registrar's own live heap per binding, without the process around it: N REGISTERs
// through the sans-IO Registrar, heap measured after forced collections.
// Usage: node --expose-gc bench/registrar/heap.ts [bindings]
import { parseSipMessage } from '../../src/codec/sip/parse.ts';
import { serializeRequest } from '../../src/codec/sip/serialize.ts';
import { Registrar } from '../../src/proto/registrar/index.ts';
const N = Number(process.argv[2] ?? '100000');
const reg = new Registrar({
  store: {
    save: () => Promise.resolve(),
    delete: () => Promise.resolve(),
    loadAll: () => Promise.resolve([]),
  },
  domains: ['example.test'],
  maxBindings: 1e6,
  defaultMaxEndpoints: 100,
});
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < N; i++) {
  const u = `u${String(i % 2000).padStart(6, '0')}`;
  const data = serializeRequest({
    method: 'REGISTER',
    requestUri: 'sip:example.test',
    headers: [
      ['Via', `SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK${i}`],
      ['From', `<sip:${u}@example.test>;tag=${i}`],
      ['To', `<sip:${u}@example.test>`],
      ['Call-ID', `call-${i}`],
      ['CSeq', '2 REGISTER'],
      ['Contact', `<sip:${u}@127.0.0.1:5070;i=${i}>`],
      ['Expires', '3600'],
      ['User-Agent', 'sipp'],
    ],
  });
  const m = parseSipMessage(data);
  if (!m.ok || m.value.kind !== 'request') throw new Error('x');
  const r = await reg.register({
    request: m.value,
    authenticatedAor: `sip:${u}@example.test`,
    now: Date.now(),
    maxEndpoints: 100,
  });
  if (r.status !== 200) throw new Error(String(r.status) + r.reason);
}
gc();
const after = process.memoryUsage().heapUsed;
console.log('bindings', reg.size, 'heap per binding', Math.round((after - before) / N), 'B');
