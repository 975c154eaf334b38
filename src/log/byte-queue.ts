// Lines waiting for the logger, kept in 64 KiB pages that are recycled through one pool shared
// by every queue in the process. Copying each block of lines into a recycled page costs far
// less than keeping a fresh allocation per block (page faults and garbage collection were
// most of the supervisor's CPU when it moved a service's output).

const PAGE_BYTES = 64 * 1024;
/** Pages kept for reuse, for all queues together (4 MiB); beyond that they go to the GC. */
const POOL_MAX_PAGES = 64;
const NEWLINE = 0x0a;

const pool: Buffer[] = [];

function takePage(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(PAGE_BYTES);
}

interface Page {
  buf: Buffer;
  /** First byte not yet consumed. */
  start: number;
  /** End of the bytes written into the page. */
  end: number;
}

export class ByteQueue {
  private pages: Page[] = [];
  private total = 0;

  get bytes(): number {
    return this.total;
  }

  /** Copies src in (the caller may reuse src at once). */
  append(src: Buffer): void {
    let offset = 0;
    while (offset < src.length) {
      let last = this.pages[this.pages.length - 1];
      if (last === undefined || last.end === last.buf.length) {
        last = { buf: takePage(), start: 0, end: 0 };
        this.pages.push(last);
      }
      const copied = src.copy(last.buf, last.end, offset);
      last.end += copied;
      offset += copied;
    }
    this.total += src.length;
  }

  /** Forgets the first n bytes; emptied pages go back to the pool. */
  consume(n: number): void {
    let left = Math.min(n, this.total);
    this.total -= left;
    while (left > 0) {
      const page = this.pages[0];
      const take = Math.min(left, page.end - page.start);
      page.start += take;
      left -= take;
      if (page.start === page.end && (page.end === page.buf.length || this.pages.length > 1)) {
        this.pages.shift();
        if (pool.length < POOL_MAX_PAGES) pool.push(page.buf);
      }
    }
  }

  /**
   * Empties the queue. Pages are left to the GC, not pooled: a write in flight may still be
   * reading them.
   */
  clear(): void {
    this.pages = [];
    this.total = 0;
  }

  /** Bytes up to and including the last newline within the first `limit` bytes (0: none). */
  wholeLinesWithin(limit: number): number {
    let scanned = 0;
    let found = 0;
    for (const page of this.pages) {
      const length = Math.min(page.end - page.start, limit - scanned);
      if (length <= 0) break;
      const at = page.buf.subarray(page.start, page.start + length).lastIndexOf(NEWLINE);
      if (at !== -1) found = scanned + at + 1;
      scanned += length;
    }
    return found;
  }

  /** Bytes up to and including the first newline at or after offset (0: none). */
  lineEndFrom(offset = 0): number {
    let scanned = 0;
    for (const page of this.pages) {
      const length = page.end - page.start;
      if (scanned + length > offset) {
        const from = page.start + Math.max(0, offset - scanned);
        const at = page.buf.subarray(from, page.end).indexOf(NEWLINE);
        if (at !== -1) return from - page.start + scanned + at + 1;
      }
      scanned += length;
    }
    return 0;
  }

  /** Copies the first n bytes into target (n at most target.length). */
  copyTo(target: Buffer, n: number): void {
    let copied = 0;
    for (const page of this.pages) {
      if (copied >= n) break;
      copied += page.buf.copy(target, copied, page.start, page.start + Math.min(page.end - page.start, n - copied));
    }
  }

  /** Newlines in the first `limit` bytes (lines lost when they are dropped). */
  countLines(limit = Infinity): number {
    let count = 0;
    let left = limit;
    for (const page of this.pages) {
      if (left <= 0) break;
      const length = Math.min(page.end - page.start, left);
      count += countLines(page.buf.subarray(page.start, page.start + length));
      left -= length;
    }
    return count;
  }
}

/** Number of lines in a block of whole lines. */
export function countLines(lines: Buffer): number {
  let count = 0;
  for (let at = lines.indexOf(NEWLINE); at !== -1; at = lines.indexOf(NEWLINE, at + 1)) count++;
  return count;
}
