/**
 * The README's code blocks, as test/readme.test.ts runs them. Every ```ts and ```sh block
 * runs unless the line before it is a directive:
 *
 *   <!-- readme-test: skip — why this block does not run -->
 *   <!-- readme-test: stores=embedded,postgres,redis; until="a line the program prints" -->
 *
 * `stores` lists the stores a block runs on (by default: the stores whose URLs it names,
 * or the embedded one); `until` marks a program that runs until stopped: the test sends
 * it SIGINT once it printed that line, and it must then stop by itself and exit 0.
 * Blocks of other languages (plain ``` for output, tables of flags) never run.
 */

export const STORES = ['embedded', 'postgres', 'redis'] as const;
export type Store = (typeof STORES)[number];

export interface ReadmeBlock {
  /** 1-based line of the opening fence, for messages. */
  line: number;
  lang: 'ts' | 'sh';
  code: string;
  /** Why the block does not run; undefined when it runs. */
  skip?: string;
  stores: Store[];
  until?: string;
  /** For a ts block whose first line is `// some/path.ts`: the file it shows. */
  file?: string;
}

const FENCE = /^```(\S*)\s*$/;
const DIRECTIVE = /^<!--\s*readme-test:\s*(.*?)\s*-->$/;
const FILE_COMMENT = /^\/\/\s*([\w./-]+\.(?:ts|mts))\s*$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README line ${i + 1}: a code block that never closes`);
    const lang = open[1];
    const code = lines.slice(i + 1, end).join('\n');
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const directive = before >= 0 ? DIRECTIVE.exec(lines[before]!.trim())?.[1] : undefined;
    i = end;
    if (lang !== 'ts' && lang !== 'sh') {
      if (directive !== undefined)
        throw new Error(
          `README line ${i + 1}: a readme-test directive on a ${lang || 'plain'} block`,
        );
      continue;
    }
    blocks.push({ line: i + 1, lang, code, ...parseDirective(directive, code, i + 1) });
  }
  return blocks;
}

function parseDirective(
  directive: string | undefined,
  code: string,
  line: number,
): Pick<ReadmeBlock, 'skip' | 'stores' | 'until' | 'file'> {
  const file = FILE_COMMENT.exec(code.split('\n')[0] ?? '')?.[1];
  const named = storesNamedIn(code);
  const result = { stores: named, ...(file ? { file } : {}) };
  if (directive === undefined) return result;
  const skip = /^skip\b[\s—:-]*(.*)$/.exec(directive);
  if (skip) {
    if (!skip[1]) throw new Error(`README line ${line}: readme-test: skip needs a reason`);
    return { ...result, skip: skip[1] };
  }
  const pairs = [...directive.matchAll(/(\w+)=(?:"([^"]*)"|([^;\s]+))\s*;?\s*/g)];
  if (pairs.map((m) => m[0]).join('') !== directive.replace(/\s*$/, '')) {
    throw new Error(`README line ${line}: cannot read the directive ${JSON.stringify(directive)}`);
  }
  let out: Pick<ReadmeBlock, 'skip' | 'stores' | 'until' | 'file'> = result;
  for (const [, key, quoted, bare] of pairs) {
    const value = quoted ?? bare ?? '';
    if (key === 'stores') {
      const stores = value.split(',');
      const wrong = stores.find((s) => !(STORES as readonly string[]).includes(s));
      if (wrong) throw new Error(`README line ${line}: unknown store ${wrong}`);
      out = { ...out, stores: stores as Store[] };
    } else if (key === 'until') {
      out = { ...out, until: value };
    } else {
      throw new Error(`README line ${line}: unknown readme-test key ${key}`);
    }
  }
  return out;
}

/** The stores whose URLs a block names; the embedded store when it names none. */
function storesNamedIn(code: string): Store[] {
  const stores: Store[] = [];
  if (/postgres(?:ql)?:\/\//.test(code)) stores.push('postgres');
  if (/rediss?:\/\//.test(code)) stores.push('redis');
  return stores.length ? stores : ['embedded'];
}

/** The block with every store URL in it pointed at the test servers. */
export function withTestUrls(code: string, urls: { postgres: string; redis: string }): string {
  return code
    .replace(/postgres(?:ql)?:\/\/[^\s'"`]+/g, urls.postgres)
    .replace(/rediss?:\/\/[^\s'"`]+/g, urls.redis);
}
