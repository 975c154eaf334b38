// A one-shot status query answered without node:http. immortalctl, the Go client and most
// scripts open a connection, send one GET and wait for the close; for them a net.Socket and
// an HTTP parser per connection were most of the server's time (docs/performance.md). When
// such a request is already whole in the socket as it is accepted — `GET` of a state route
// (routes.ts: `/`, `/status`, `/service`), no body, HTTP/1.0 or `Connection: close` — it is
// answered here with the bytes node:http would send, and the connection is closed.
//
// Anything else (keep-alive, another method or route, a body, a request still arriving, the
// server closing) is declined untouched: the bytes were only peeked, so node:http sees the
// connection exactly as accepted.

import fs from 'node:fs';
import net from 'node:net';
import { peekConnection } from '../native';
import { stateAnswer, type RouteContext } from './routes';

/** A request head longer than this is not a one-shot status query. */
const MAX_HEAD_BYTES = 4096;
const peekBuffer = Buffer.allocUnsafeSlow(MAX_HEAD_BYTES);

interface OneShotGet {
  target: string;
  host?: string;
  /** Bytes of the request (its head: a GET here has no body). */
  length: number;
}

/** True when the request was answered and the fd closed (or handed to a socket that closes it). */
export function answerOneShot(fd: number, ctx: RouteContext): boolean {
  let request: OneShotGet | undefined;
  let answer: ReturnType<typeof stateAnswer>;
  try {
    request = parseOneShotGet(peekBuffer.toString('latin1', 0, peekConnection(fd, peekBuffer)));
    answer = request && stateAnswer(ctx, request.host, request.target);
  } catch {
    return false; // node:http gives the error its proper answer
  }
  if (request === undefined || answer === undefined) return false;
  const body = Buffer.from(answer.body, 'utf8');
  const head = `HTTP/1.1 200 OK\r\nContent-Type: ${answer.contentType}\r\nContent-Length: ${body.length}\r\n`
    + `Date: ${new Date().toUTCString()}\r\nConnection: close\r\n\r\n`;
  send(fd, request.length, Buffer.concat([Buffer.from(head, 'latin1'), body]));
  return true;
}

/**
 * Takes the request off the socket (a close with unread bytes would reset the connection and
 * could cost the client its answer), writes the answer and closes. A socket buffer too full
 * for the answer at once gets the rest through a net.Socket, which closes once it is out.
 */
function send(fd: number, requestLength: number, response: Buffer): void {
  let written = 0;
  try {
    fs.readSync(fd, peekBuffer, 0, requestLength, null);
    written = fs.writeSync(fd, response);
  } catch {
    // EAGAIN: nothing written yet; anything else: the socket below reports it
  }
  if (written === response.length) {
    fs.closeSync(fd);
    return;
  }
  const socket = new net.Socket({ fd, readable: false, writable: true });
  socket.on('error', () => socket.destroy());
  socket.end(response.subarray(written));
}

/**
 * The request when `head` is exactly one whole `GET` with no body that asks to close after
 * the answer; undefined otherwise (including a head whose end has not arrived yet).
 */
export function parseOneShotGet(head: string): OneShotGet | undefined {
  const end = head.indexOf('\r\n\r\n');
  // Bytes after the head would be a body or a second request: not a one-shot.
  if (end === -1 || end + 4 !== head.length) return undefined;
  const [requestLine, ...fields] = head.slice(0, end).split('\r\n');
  const line = /^GET (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (line === null) return undefined;
  let host: string | undefined;
  let connection = '';
  for (const field of fields) {
    const colon = field.indexOf(':');
    // A malformed or folded field: node:http answers it (400), not us.
    if (colon <= 0 || /\s/.test(field[0])) return undefined;
    const name = field.slice(0, colon).toLowerCase();
    const value = field.slice(colon + 1).trim();
    if (name === 'host') host = value;
    else if (name === 'connection') connection += `,${value.toLowerCase()}`;
    else if (name === 'content-length' || name === 'transfer-encoding' || name === 'expect' || name === 'upgrade') return undefined;
  }
  const tokens = connection.split(',').map((token) => token.trim());
  const closes = line[2] === '0' ? !tokens.includes('keep-alive') : tokens.includes('close');
  return closes ? { target: line[1], host, length: end + 4 } : undefined;
}
