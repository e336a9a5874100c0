import { STREAMS_SETTINGS } from '../../src/config/streams.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DOC_PATH,
  END,
  renderConfigurationTables,
  START,
  withConfigurationTables,
} from '../../scripts/configuration-table.js';
import { CONSOLE_SETTINGS } from '../../src/config/console.js';
import { DEMO_SETTINGS } from '../../src/config/demo.js';
import { SETTINGS } from '../../src/config/settings.js';

describe('the configuration tables', () => {
  it('are what docs/configuration.md shows (run npm run docs:configuration when this fails)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    expect(doc).toBe(withConfigurationTables(doc));
    expect(doc).toContain(renderConfigurationTables());
  });

  it('name every variable once, under the heading of its scope', () => {
    const tables = renderConfigurationTables();
    const sections = tables.split(/^### /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual([
      'Store',
      'Worker',
      'Operations',
      'Console',
      'Streams',
      'Demo',
    ]);
    const heading = { store: 0, worker: 1, operations: 2, console: 3, streams: 4, demo: 5 };
    for (const s of [
      ...Object.values(SETTINGS),
      ...Object.values(CONSOLE_SETTINGS),
      ...Object.values(STREAMS_SETTINGS),
      ...Object.values(DEMO_SETTINGS),
    ]) {
      const rows = tables.split('\n').filter((line) => line.startsWith(`| \`${s.env}\``));
      expect(rows, s.env).toHaveLength(1);
      expect(sections[heading[s.scope]], s.env).toContain(rows[0]);
      if (s.flag !== null) expect(rows[0], s.env).toContain(`\`--${s.flag}\``);
    }
    // the secret's file variable is named beside it
    expect(tables).toContain('| `DISPATCHBOX_DATABASE_URL` or `DISPATCHBOX_DATABASE_URL_FILE` |');
  });

  it('rewrites only the part between the markers, and refuses a page without them', () => {
    const page = `# title\n\nbefore\n${START}\nstale table\n${END}\nafter\n`;
    const updated = withConfigurationTables(page);
    expect(updated.startsWith(`# title\n\nbefore\n${START}\n`)).toBe(true);
    expect(updated.endsWith(`${END}\nafter\n`)).toBe(true);
    expect(updated).not.toContain('stale table');
    expect(withConfigurationTables(updated)).toBe(updated);
    expect(() => withConfigurationTables('# no markers')).toThrow(/must hold the markers/);
  });
});
