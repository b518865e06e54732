import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import dynalite, { type DynaliteLevel } from 'dynalite';

// dynalite's own LevelDB packages, whichever versions it installed.
const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const requireFromLevel = createRequire(requireFromDynalite.resolve('level'));

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
  /** Its own health figures, for /metrics. */
  stats(): Promise<EmbeddedDynaliteStats>;
  close(): Promise<void>;
}

/** What the embedded dynalite holds open and in memory: a leak shows here before the kernel sees it. */
export interface EmbeddedDynaliteStats {
  /** LevelDB iterators open now. A Query or Scan holds one while it reads, so at rest this is 0. */
  openIterators: number;
  /** LevelDB iterators opened since start (about one per Query or Scan). */
  iteratorsOpened: number;
  /** LevelDB reads and writes dynalite has started and not yet finished. */
  pendingOperations: number;
  /** LevelDB's estimate of its own memory: memtables and block cache. */
  leveldbMemoryBytes: number;
  /** LevelDB's estimate of the table files on disk (the write-ahead log not included). */
  leveldbDiskBytes: number;
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
  // dynalite opens its LevelDB in the background: hold the lock before saying we started, or a
  // second start on this directory right after could still open it (seen in CI).
  await server.store.db.open();
  const iterators = countIterators(server.store.db);
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
    async stats() {
      const { db, lifecycleManager } = server.store;
      return {
        ...iterators(),
        pendingOperations: lifecycleManager.getPendingOperationCount(),
        leveldbMemoryBytes: Number(db.getProperty('leveldb.approximate-memory-usage')),
        leveldbDiskBytes: await db.approximateSize('', '\uffff'),
      };
    },
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

/**
 * Counts the LevelDB iterators `db` opens and closes. abstract-level attaches every iterator to its
 * database until the iterator is closed (so that closing the database can close it); the count
 * therefore shows iterators nobody closed, which hold native memory (issue 18, ARCHITECTURE.md).
 * Only entry iterators are counted: `db.values()` wraps one in a value iterator of its own.
 */
function countIterators(
  db: DynaliteLevel,
): () => Pick<EmbeddedDynaliteStats, 'openIterators' | 'iteratorsOpened'> {
  const { AbstractIterator } = requireFromLevel('abstract-level') as {
    AbstractIterator: abstract new () => object;
  };
  const open = new Set<object>();
  let opened = 0;
  const attach = db.attachResource.bind(db);
  const detach = db.detachResource.bind(db);
  db.attachResource = (resource) => {
    attach(resource);
    if (resource instanceof AbstractIterator) {
      open.add(resource);
      opened++;
    }
  };
  db.detachResource = (resource) => {
    detach(resource);
    open.delete(resource);
  };
  return () => ({ openIterators: open.size, iteratorsOpened: opened });
}

/** Opens and closes the LevelDB at `dataDir`; a lock held by another process (or this one) throws. */
async function assertDataDirFree(dataDir: string): Promise<void> {
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
