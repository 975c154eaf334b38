// One `listen:` entry: an address the supervisor binds and holds for the service. Written as
// `tcp://HOST:PORT`, `tcp6://[HOST]:PORT` or `unix:/path` (also `unix:///path`). Hosts are
// numeric addresses only: what is bound is exactly what was written, with no resolver at
// start-up (`localhost` may name ::1, 127.0.0.1 or both). Checked when the file is read, so
// `-cc` already refuses a bad one.

import net from 'node:net';
import path from 'node:path';
import type { ValueType } from './value-types';

export interface ListenAddress {
  /** As written in run.yml (the error messages and LISTEN_FDNAMES name it so). */
  text: string;
  kind: 'tcp' | 'tcp6' | 'unix';
  /** Numeric host, canonical form ('' is not allowed: write 0.0.0.0 or [::]). tcp/tcp6 only. */
  host: string;
  /** 0 asks the kernel for a free port. tcp/tcp6 only. */
  port: number;
  /** Absolute path of the socket file. unix only. */
  path: string;
}

/** The address text → its parts, or the reason it is not one. */
export function parseListenAddress(written: string, baseDir: string): ListenAddress | string {
  const text = written.trim();
  const unix = /^unix:(.*)$/.exec(text);
  if (unix) {
    const file = unix[1].startsWith('///') ? unix[1].slice(2) : unix[1];
    if (file === '' || file.startsWith('//')) return 'expected unix:/path';
    if (file.includes('\0')) return 'contains a NUL byte';
    const absolute = path.resolve(baseDir, file);
    // sockaddr_un holds 108 bytes with the NUL.
    if (Buffer.byteLength(absolute) > 107) return 'unix socket path longer than 107 bytes';
    return { text, kind: 'unix', host: '', port: 0, path: absolute };
  }
  const inet = /^(tcp6?):\/\/(.*):([^:\]]*)$/.exec(text);
  if (!inet) {
    const scheme = /^([a-z0-9+.-]*):/i.exec(text)?.[1];
    return scheme && scheme !== 'tcp' && scheme !== 'tcp6'
      ? `unknown scheme ${scheme}: (expected tcp://, tcp6:// or unix:)`
      : 'expected tcp://HOST:PORT, tcp6://[HOST]:PORT or unix:/path';
  }
  const kind = inet[1] as 'tcp' | 'tcp6';
  const portText = inet[3];
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return `port must be 0 to 65535, got "${portText}"`;
  let host = inet[2];
  if (kind === 'tcp6') {
    if (!/^\[.*\]$/.test(host)) return 'tcp6 hosts are written in brackets: tcp6://[::1]:PORT';
    host = host.slice(1, -1);
    if (net.isIP(host) !== 6) return `not a numeric IPv6 address: "${host}"`;
  } else if (net.isIP(host) !== 4) {
    return `not a numeric IPv4 address: "${host}" (names are not resolved; write 127.0.0.1, 0.0.0.0, or tcp6://[::1]:PORT)`;
  }
  return { text, kind, host: canonicalHost(host, kind), port: Number(portText), path: '' };
}

/** The form inet_ntop prints (native.localAddress), so a socket taken back matches its entry. */
export function canonicalHost(host: string, kind: 'tcp' | 'tcp6'): string {
  const hostname = new URL(`http://${kind === 'tcp6' ? `[${host}]` : host}/`).hostname;
  return kind === 'tcp6' ? hostname.slice(1, -1) : hostname;
}

/** A `listen:` item. */
export const listenAddress: ValueType<ListenAddress> = {
  doc: 'address',
  read(reader, node, key) {
    const value = reader.value(node);
    if (typeof value !== 'string') return reader.expected(key, 'an address like tcp://127.0.0.1:8080', node);
    const parsed = parseListenAddress(value, reader.baseDir);
    if (typeof parsed === 'string') return reader.fail(key, `${value}: ${parsed}`);
    return parsed;
  },
  toYaml: (address) => (address.kind === 'unix' ? `unix:${address.path}` : address.text),
};
