import { readEnvelope, toOutgoing } from '../src/streams/codec.js';
import { StreamProducer } from '../src/streams/producer.js';
const producer = new StreamProducer({ send: async () => undefined, close: async () => undefined }, 'bench');
const msgs = Array.from({ length: 50000 }, (_, i) => ({ topic: 'x', key: 'k', value: toOutgoing('x', producer.envelope('x', 'k', { i, pad: 'x'.repeat(100) })).value, headers: {}, position: '1-0', deliveryCount: 1, orderKey: 'x' }));
for (let r = 0; r < 4; r++) {
  let t = performance.now(); for (const m of msgs) JSON.parse(m.value); const a = (performance.now() - t) * 1000 / msgs.length;
  t = performance.now(); for (const m of msgs) readEnvelope(m); const b = (performance.now() - t) * 1000 / msgs.length;
  console.log(`JSON.parse ${a.toFixed(2)} µs, readEnvelope ${b.toFixed(2)} µs`);
}
