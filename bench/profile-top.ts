/**
 * Prints the heaviest frames of a V8 CPU profile (from `npm run bench -- --profile`):
 * self time by function, and self time summed by file, so a bottleneck in our code
 * stands out from the driver's and the runtime's.
 *
 *   npx tsx profile-top.ts results/profiles/CPU.<...>.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const [path, topArg] = process.argv.slice(2);
if (!path) throw new Error('usage: tsx profile-top.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(path, 'utf8')) as {
  nodes: Node[];
  startTime: number;
  endTime: number;
};
const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'node_modules/')
    .replace(/^\/work\/main\//, '');

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const hits = node.hitCount ?? 0;
  const fn = `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
  const file = url ? short(url) : `(${functionName})`;
  byFile.set(file, (byFile.get(file) ?? 0) + hits);
}

const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, hits] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
};
console.log(
  `${path}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, ${total} samples`,
);
print('self time by function', byFunction);
print('self time by file', byFile);
