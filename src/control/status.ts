// The status document of `GET /` and `GET /status`, byte for byte what the Go immortal sends.
//
// The original builds a struct {pid, up?, down?, cmd, fpid, count, status?} and writes it with
// json.NewEncoder, which (a) keeps the struct's field order, (b) escapes <, > and & as \u003c,
// \u003e, \u0026 and U+2028/U+2029 as \u2028/\u2029, and (c) ends the document with "\n".
// curl users and scripts see exactly that, so we reproduce all three.

import type { StatusSnapshot } from '../supervise/service';
import { formatSince } from './duration';

/** The parsed shape of a status document (also what the client returns). */
export interface StatusDocument {
  pid: number;
  up?: string;
  down?: string;
  cmd: string;
  fpid: boolean;
  count: number;
  status?: string;
}

/**
 * The status object in the original's key order. `up` while a process runs (counted from the
 * start), `down` once it has exited (counted from the exit); before the first start neither
 * key is present, as in the original, and `status` carries the note instead.
 */
export function statusDocument(snapshot: StatusSnapshot, now: number): StatusDocument {
  return {
    pid: snapshot.pid,
    ...durationKey(snapshot, now),
    cmd: snapshot.cmd,
    fpid: snapshot.fpid,
    count: snapshot.count,
    ...(snapshot.note ? { status: snapshot.note } : {}),
  };
}

function durationKey(snapshot: StatusSnapshot, now: number): { up: string } | { down: string } | {} {
  if (snapshot.running) return { up: formatSince(snapshot.since, now) };
  if (snapshot.since > 0) return { down: formatSince(snapshot.since, now) };
  return {};
}

/** The exact response body of `GET /status`, trailing newline included. */
export function statusJson(snapshot: StatusSnapshot, now: number): string {
  return encodeJsonLikeGo(statusDocument(snapshot, now));
}

const GO_HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/**
 * JSON.stringify plus the escapes Go's json.Encoder adds by default, plus its "\n".
 * Escaping after stringify is safe: these characters only ever appear inside strings.
 */
export function encodeJsonLikeGo(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => GO_HTML_ESCAPES[ch]) + '\n';
}
