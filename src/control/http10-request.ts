// One GET over a fresh unix-socket connection, HTTP/1.0 written by hand: what a program that
// asks once and exits needs (immortalctl). node:http with its agent, parser and streams
// costs such a program ~10 ms of CPU per run more than this (docs/performance.md). The
// server answers an HTTP/1.0 request and closes the connection; the body runs to its end.

import net from 'node:net';

export interface Reply {
  statusCode: number;
  body: string;
}

/** GET path on socketPath; rejects with the socket's error (code set) or timeoutError(). */
export function http10Get(socketPath: string, path: string, timeoutMs: number, timeoutError: () => Error): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection(socketPath);
    socket.setTimeout(timeoutMs, () => socket.destroy(timeoutError()));
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => {
      try {
        resolve(parseReply(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    // Written, not ended: a half-close reads as "client gone" to an HTTP server, which then
    // drops an answer that takes a while (an upgrade's). The server closes after answering 1.0.
    socket.write(`GET ${path} HTTP/1.0\r\nHost: immortal\r\n\r\n`);
  });
}

function parseReply(raw: Buffer): Reply {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error('incomplete HTTP response');
  const [statusLine, ...headerLines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`not an HTTP response: ${statusLine.slice(0, 80)}`);
  let body = raw.subarray(headEnd + 4);
  const headers = new Map(headerLines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
  }));
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  const length = headers.get('content-length');
  if (length !== undefined && /^\d+$/.test(length)) body = body.subarray(0, Number(length));
  return { statusCode: Number(status[1]), body: body.toString('utf8') };
}

/** A chunked body (a server that answers HTTP/1.0 with it anyway) as its plain bytes. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('truncated chunked body');
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
