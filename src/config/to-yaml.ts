// What `immortal -cc` prints: the Config in run.yml spelling, walked in key-table order:
// absolute paths, defaults filled in, unset optional keys left out.

import { Document, isScalar } from 'yaml';
import type { Config } from './config';
import { RUN_YML_KEYS } from './keys';

export function configToYaml(config: Config): string {
  const service: Record<string, unknown> = {};
  for (const entry of RUN_YML_KEYS) {
    const value = valueAt(config, entry.field);
    if (value === undefined) continue;
    const printed = entry.type.toYaml ? entry.type.toYaml(value) : value;
    if (printed === undefined) continue;
    const names = entry.name.split('.');
    let object = service;
    for (const name of names.slice(0, -1)) object = (object[name] ??= {}) as Record<string, unknown>;
    object[names[names.length - 1]] = printed;
  }
  const doc = new Document(service, { version: '1.1' });
  for (const entry of RUN_YML_KEYS) {
    const node = entry.type.octal ? doc.getIn(entry.name.split('.'), true) : undefined;
    if (isScalar(node)) node.format = 'OCT';
  }
  doc.commentBefore = ` service ${config.name}, supervise dir ${config.superviseDir}`;
  return doc.toString();
}

function valueAt(config: Config, field: string): unknown {
  return field.split('.').reduce<unknown>((object, name) => (object as Record<string, unknown> | undefined)?.[name], config);
}
