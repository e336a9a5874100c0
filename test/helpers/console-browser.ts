/**
 * What the console's browser tests share: the page built by Vite (once per test file, into
 * a scratch folder, so a concurrent `npm run build` cannot pull it away), a console served
 * over real HTTP, and Debian's Chromium driven by playwright-core with a fresh profile.
 */
import { serve, type ServerType } from '@hono/node-server';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import type { CommandBus } from '../../src/bus/bus.js';
import { createConsole, type ConsoleOptions } from '../../src/console/index.js';
import { freePort } from './servers.js';

const CHROMIUM = process.env.DISPATCHBOX_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go (gitignored); the README's two are copied to docs/images/. */
export const SCREENSHOTS = path.resolve('test-results/console');

/** Builds the page as `npm run build:console` does, into a scratch folder; returns it. */
export async function buildConsolePage(): Promise<string> {
  const outDir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-console-page-'));
  await build({
    root: path.resolve('console'),
    configFile: path.resolve('console/vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

export interface ServedConsole {
  url: string;
  close(): Promise<void>;
}

/** createConsole(bus, options) on a real HTTP server on 127.0.0.1. */
export async function serveConsole(
  bus: CommandBus,
  options: ConsoleOptions,
): Promise<ServedConsole> {
  const app = createConsole(bus, { livePollMs: 250, ...options });
  const port = await freePort();
  const server: ServerType = await new Promise((resolve) => {
    const started = serve(
      { fetch: (request) => app.fetch(request), port, hostname: '127.0.0.1' },
      () => resolve(started),
    );
  });
  return {
    url: `http://127.0.0.1:${port}${options.basePath ?? ''}/`,
    close: async () => {
      await app.close();
      // Live streams stay open until closed: end them with the server.
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged as errors, and requests it could not make. */
  problems: string[];
  close(): Promise<void>;
}

/** Chromium with a profile of its own, and one page (wide enough for the overview). */
export async function openBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'dispatchbox-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A refused request is recorded below, with its URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a screenshot as a test artefact. With DISPATCHBOX_UPDATE_SCREENSHOTS=1, `docsName`
 * also replaces the README's copy in docs/images/ (tracked files: an ordinary test run
 * leaves the checkout as it found it).
 */
export async function screenshot(page: Page, name: string, docsName?: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (docsName && process.env.DISPATCHBOX_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(path.resolve('docs/images'), { recursive: true });
    copyFileSync(file, path.resolve('docs/images', docsName));
  }
}

/** Waits until the element's text, trimmed, is `expected` (the page updates it live). */
export async function waitForText(
  page: Page,
  selector: string,
  expected: string,
  timeoutMs = 20_000,
): Promise<void> {
  // A locator, not waitForFunction: the console's Content-Security-Policy forbids the
  // eval that a string predicate needs, and this project's types have no DOM for a function.
  const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const exactly = new RegExp(`^\\s*${escaped}\\s*$`);
  await page.locator(selector).filter({ hasText: exactly }).first().waitFor({ timeout: timeoutMs });
}
