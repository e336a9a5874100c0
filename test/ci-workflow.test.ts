import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// .github/workflows/ci.yml must parse and run what .ci/run runs, on every supported Node.
interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  strategy?: { matrix?: { node?: number[] } };
  services?: Record<string, { image: string }>;
  steps: Step[];
}
const workflow = parse(readFileSync('.github/workflows/ci.yml', 'utf8')) as {
  on: unknown;
  jobs: Record<string, Job>;
};
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run] : []));

describe('.github/workflows/ci.yml', () => {
  it('tests on Node 20, 22 and 24 against PostgreSQL, Redis, NATS and the Kafka mock', () => {
    const test = workflow.jobs.test!;
    expect(test.strategy?.matrix?.node).toEqual([20, 22, 24]);
    expect(Object.keys(test.services ?? {}).sort()).toEqual(['postgres', 'redis']);
    expect(runs(test)).toEqual([
      'docker run -d --name nats -p 4222:4222 nats:2 -js',
      'sudo apt-get update -qq && sudo apt-get install -y -qq librdkafka-dev kcat',
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'npm test',
    ]);
    // node-rdkafka compiles against the librdkafka installed above, not its bundled copy.
    expect(test.steps.find((s) => s.run === 'npm ci')?.env?.BUILD_LIBRDKAFKA).toBe('0');
    const setup = test.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(setup?.with?.['node-version']).toBe('${{ matrix.node }}');
  });

  it('builds and runs the image with .ci/image on the official Node image', () => {
    const image = workflow.jobs.image!;
    const step = image.steps.find((s) => s.run === '.ci/image');
    expect(step?.env?.NODE_IMAGE).toMatch(/^docker\.io\/library\/node:22-/);
    expect(Object.keys(image.services ?? {})).toEqual(['postgres']);
  });

  it('the Node versions it tests are the ones package.json accepts', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=20');
  });
});
