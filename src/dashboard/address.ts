// `--http` values: PORT, HOST:PORT or [V6]:PORT. A bare port (or :PORT) means loopback only:
// the dashboard is reachable from another host only when an address says so explicitly.

export interface HttpAddress {
  host: string;
  port: number;
}

const LOOPBACK_DEFAULT = '127.0.0.1';

/** Parses a --http value; throws an Error naming the value when it is not one of the forms. */
export function parseHttpAddress(raw: string): HttpAddress {
  const match = /^(\d+)$/.exec(raw) ?? /^:(\d+)$/.exec(raw);
  if (match) return { host: LOOPBACK_DEFAULT, port: checkedPort(match[1], raw) };
  const v6 = /^\[([0-9a-fA-F:.%\w]+)\]:(\d+)$/.exec(raw);
  if (v6) return { host: v6[1], port: checkedPort(v6[2], raw) };
  const v4OrName = /^([^:[\]\s]+):(\d+)$/.exec(raw);
  if (v4OrName) return { host: v4OrName[1], port: checkedPort(v4OrName[2], raw) };
  throw new Error(`--http "${raw}": expected PORT, HOST:PORT or [IPV6]:PORT (a bare port listens on ${LOOPBACK_DEFAULT} only)`);
}

function checkedPort(text: string, raw: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port > 65535) throw new Error(`--http "${raw}": port ${text} is out of range (0-65535)`);
  return port;
}

/** True for names that can only reach this host: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare) || bare === '::ffff:127.0.0.1';
}

/** The host part of a Host header ("127.0.0.1:8080" → "127.0.0.1", "[::1]:80" → "::1"). */
export function hostOfHostHeader(header: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (v6) return v6[1];
  return header.replace(/:\d+$/, '');
}

/** How a browser would write the address in a URL. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
