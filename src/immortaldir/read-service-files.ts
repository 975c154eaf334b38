// The child immortaldir starts to read its *.yml files (config-reader.ts says why): the
// request as JSON on stdin, each file's checked Config or its error as JSON on stdout, then
// exit 0. Anything else (a crash) is a failed read of every file, reported by the parent.

import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, loadServiceFile } from '../config/config';
import { survivesJson } from '../supervise/config-handover';
import type { ReaderInput, ReadResult } from './config-reader';

function read(name: string, file: string, context: ReaderInput['context']): ReadResult {
  try {
    const config = loadServiceFile(file, { ctl: name }, process.env, context);
    // Every Config field is plain data today; a future one that is not must fail loudly here.
    if (!survivesJson(config)) return { error: `${file}: internal error: the checked config does not survive JSON` };
    return { config };
  } catch (err) {
    return { error: err instanceof ConfigError ? err.message : `${file}: ${(err as Error).message}` };
  }
}

const input = JSON.parse(readFileSync(0, 'utf8')) as ReaderInput;
const answer: Record<string, ReadResult> = {};
for (const { name, file } of input.files) answer[name] = read(name, file, input.context);
writeFileSync(1, JSON.stringify(answer));
