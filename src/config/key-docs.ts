// The run.yml key table of docs/config.md, written from the key table (keys.ts).
// test/config-keys.test.mjs fails when the page and the table disagree, and prints these rows.

import { type KeyEntry, RUN_YML_KEYS } from './keys';

export const KEY_TABLE_HEADER = ['| key | type | meaning | default |', '|---|---|---|---|'];

/** One markdown row: `| \`log.age\` | seconds ≥ 0 | rotate when … | 0 = never |`. */
export function keyDocRow(entry: KeyEntry): string {
  const type = entry.check ? `${entry.type.doc} ${entry.check.doc}` : entry.type.doc;
  const cells = [`\`${entry.name}\``, type, entry.doc, entry.docDefault ?? defaultText(entry.default)];
  return `| ${cells.join(' | ')} |`.replace(/ {2}\|$/, ' |');
}

function defaultText(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string' ? String(value) : '';
}

/** The whole table, header included, as docs/config.md should show it. */
export function keyTableMarkdown(keys: readonly KeyEntry[] = RUN_YML_KEYS): string {
  return [...KEY_TABLE_HEADER, ...keys.map(keyDocRow)].join('\n');
}
