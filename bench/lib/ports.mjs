// A free TCP port on 127.0.0.1, for benchmarks that start servers of their own.
import net from 'node:net';

/** A port the kernel just handed out and released: free, unless something takes it first. */
export function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
