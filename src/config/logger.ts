import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat } from './setting.js';

const require = createRequire(import.meta.url);

/** Where log lines go, and whether a person reads them there. */
export interface LogOutput {
  /** A file descriptor: 2 (stderr) unless a test says otherwise. */
  fd: number;
  isTTY: boolean;
}

/** The level of `createDispatchbox()` in an application: warnings and errors, nothing routine. */
export const LIBRARY_LOG_LEVEL = 'warn';
/** The level of the `dispatchbox` command and the container (the demo has its own). */
export const CLI_LOG_LEVEL = 'info';

const STDERR: LogOutput = {
  fd: 2,
  get isTTY() {
    return Boolean(process.stderr.isTTY);
  },
};

/** `auto` is pretty for a person at a terminal and JSON lines for everything else. */
export function resolveLogFormat(format: LogFormat, isTTY: boolean): 'json' | 'pretty' {
  if (format === 'auto') return isTTY ? 'pretty' : 'json';
  return format;
}

/**
 * The process's logger, on stderr so that a command's own output on stdout stays clean:
 * JSON lines (one object a line, for a log collector), or readable lines when `format`
 * says so (`auto`: when stderr is a terminal).
 *
 * Both write synchronously, so that the last lines before an exit are never lost.
 * pino-pretty is loaded only when it is used, and only its formatter: its own stream
 * writes through a pipeline of streams, asynchronously.
 */
export function createLogger(
  level: pino.LevelWithSilent,
  format: LogFormat = 'auto',
  output: LogOutput = STDERR,
): Logger {
  const destination = pino.destination({ dest: output.fd, sync: true });
  const options = { name: 'dispatchbox', level };
  if (level === 'silent' || resolveLogFormat(format, output.isTTY) === 'json')
    return pino(options, destination);
  return pino(options, prettyStream(destination, output.isTTY));
}

function prettyStream(destination: DestinationStream, colorize: boolean): DestinationStream {
  const { prettyFactory } = require('pino-pretty') as typeof PinoPretty;
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
  });
  return { write: (line: string) => destination.write(pretty(line)) };
}
