/** Background jobs of the console (types.ts, JobRunner). */
import type { Logger } from 'pino';
import type { JobRunner } from './types.js';

export function createJobRunner(_logger: Logger): JobRunner {
  throw new Error('createJobRunner: not yet implemented');
}
