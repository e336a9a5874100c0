#!/usr/bin/env node
import { runCli } from './program.js';

// The `dispatchbox` executable. Everything lives in program.ts so tests can run it in-process.
const code = await runCli(process.argv.slice(2));
// Every command has closed what it opened by now; exiting explicitly makes sure a handle
// left open by a failed start (a half-opened store, a handler module's timer) cannot keep
// the process alive. Wait for stdout to flush first.
process.stdout.write('', () => process.exit(code));
