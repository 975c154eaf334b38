// The version every program prints for -v: the package's own.

import { readFileSync } from 'node:fs';
import path from 'node:path';

export function packageVersion(): string {
  const manifest = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}
