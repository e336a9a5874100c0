import type { ChainableCommander, Redis } from 'ioredis';
import { SCRIPTS, type ScriptName } from './index.js';

// Promise<unknown> on a client; the pipeline itself on a pipeline or MULTI.
type ScriptMethod = (...args: (string | number)[]) => unknown;

/** Registers every script on a client (ioredis keeps the SHA and falls back to EVAL once). */
export function defineScripts(client: Redis): void {
  for (const script of Object.values(SCRIPTS)) {
    client.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
  }
}

/** Runs a script on a client and resolves to its reply. */
export function runScript(
  client: Redis,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  return scriptMethod(client, name, keys).call(client, ...keys, ...args) as Promise<unknown>;
}

/** Queues a script on a pipeline or MULTI; its reply comes from `execAll`. */
export function queueScript(
  pipeline: ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): void {
  scriptMethod(pipeline, name, keys).call(pipeline, ...keys, ...args);
}

/** The command `defineScripts` added for a script (on a client it runs, on a pipeline it queues). */
function scriptMethod(
  target: Redis | ChainableCommander,
  name: ScriptName,
  keys: string[],
): ScriptMethod {
  const script = SCRIPTS[name];
  if (keys.length !== script.keys)
    throw new Error(`script ${name} takes ${script.keys} keys, got ${keys.length}`);
  return (target as unknown as Record<string, ScriptMethod>)[script.name]!;
}

/** Runs a pipeline or MULTI and returns its replies, throwing the first error. */
export async function execAll(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new Error('the transaction was aborted');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/** One call of a script: its keys and arguments. */
export interface ScriptCall {
  keys: string[];
  args: (string | number)[];
}

/**
 * Runs calls of one script and returns their replies in order, throwing the first error:
 * a single call goes straight to the client, several go in one pipeline. The worker's
 * settle and renew are one call in the common case (one domain, one slice), and a
 * pipeline object with its own promise and write buffer cost more memory than the call.
 */
export async function runScripts(
  client: Redis,
  name: ScriptName,
  calls: ScriptCall[],
): Promise<unknown[]> {
  const [only] = calls;
  if (calls.length === 1 && only) return [await runScript(client, name, only.keys, only.args)];
  const pipeline = client.pipeline();
  for (const call of calls) queueScript(pipeline, name, call.keys, call.args);
  return execAll(pipeline);
}
