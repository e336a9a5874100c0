import type { ChainableCommander, Redis } from 'ioredis';
import { SCRIPTS, type ScriptName } from './index.js';

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** Registers every script on a client (ioredis keeps the SHA and falls back to EVAL once). */
export function defineScripts(client: Redis): void {
  for (const script of Object.values(SCRIPTS)) {
    client.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
  }
}

/** Runs a script on a client or queues it on a pipeline / MULTI. */
export function runScript(
  target: Redis | ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  const script = SCRIPTS[name];
  if (keys.length !== script.keys)
    throw new Error(`script ${name} takes ${script.keys} keys, got ${keys.length}`);
  const call = (target as unknown as Record<string, ScriptCall>)[script.name]!;
  return call.call(target, ...keys, ...args);
}
