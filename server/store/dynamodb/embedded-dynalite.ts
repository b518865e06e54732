import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import dynalite from 'dynalite';

export interface EmbeddedDynaliteOptions {
  /** LevelDB directory; created when missing. */
  dataDir: string;
  /** 0 (default): any free port. */
  port?: number;
}

export interface EmbeddedDynalite {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    options?: { cause?: unknown },
  ) {
    super(`DATA_DIR ${dataDir} is in use by another process; stop it or set DATA_DIR`, options);
    this.name = 'DataDirInUseError';
  }
}

/**
 * dynalite in this process on 127.0.0.1, persisting under `dataDir`: the out-of-the-box store.
 *
 * Two processes on one directory collide: LevelDB's LOCK lets only one open it, and dynalite
 * answers "listening" anyway, then throws on the first request (an uncaught exception that takes
 * the process down). So the directory is opened once here first, with dynalite's own LevelDB
 * package, and a lock held elsewhere becomes a clear error before anything listens.
 */
export async function startEmbeddedDynalite(options: EmbeddedDynaliteOptions): Promise<EmbeddedDynalite> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  await assertDataDirFree(dataDir);

  const server = dynalite({ path: dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // dynalite rethrows a request's stream error ('aborted': the client hung up mid-body), which in
  // this process is an uncaught exception that takes the whole server down. Such a request has
  // nobody left to answer: drop it. This listener runs after dynalite's handler added its own.
  server.on('request', (request: IncomingMessage) => {
    request.removeAllListeners('error');
    request.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    close() {
      // Idle keep-alive sockets would hold the server (and the LevelDB lock) open.
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Opens and closes the LevelDB at `dataDir`; a lock held by another process (or this one) throws. */
async function assertDataDirFree(dataDir: string): Promise<void> {
  const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { Level } = requireFromDynalite('level') as {
    Level: new (location: string) => { open(): Promise<void>; close(): Promise<void> };
  };
  const db = new Level(dataDir);
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '')) {
      throw new DataDirInUseError(dataDir, { cause: error });
    }
    throw error;
  }
  await db.close();
}
