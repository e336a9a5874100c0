import { pino } from 'pino';
import { measureLayer } from '/work/wt-bench/bench/streams-layer.ts';
const r = await measureLayer(Number(process.argv[2] ?? 50000), Number(process.argv[3] ?? 3), pino({ level: 'warn' }), console.log);
console.log(JSON.stringify(r));
