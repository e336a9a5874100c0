/** A Markdown table padded as Prettier pads it, so `prettier --check` leaves it alone. */
export function markdownTable(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((r) => r.map((c) => c.replaceAll('|', '\\|')));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ];
}
