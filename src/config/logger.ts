import pino, { type Logger } from 'pino';

/** JSON log lines on stderr, so that a command's own output on stdout stays clean. */
export function createLogger(level: pino.LevelWithSilent): Logger {
  return pino({ name: 'dispatchbox', level }, pino.destination({ dest: 2, sync: true }));
}
