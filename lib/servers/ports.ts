/** Free loopback ports for the servers Lifeboat starts (DR environments, test clusters). */
import { createServer, type Server } from 'node:net';

/** A TCP port on `host` that nothing listens on right now (the kernel's choice). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `count` distinct free ports on `host`, none of them in `avoid`: all held open together while the
 * kernel picks, so two picks can never be the same port.
 */
export async function freePorts(count: number, host = '127.0.0.1', avoid: readonly number[] = []): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    while (ports.length < count) {
      const server = createServer();
      servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve((server.address() as { port: number }).port));
      });
      if (!avoid.includes(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}
