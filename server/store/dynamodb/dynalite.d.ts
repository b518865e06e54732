// dynalite ships no types; this covers the part the embedded store uses.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
    ssl?: boolean;
  }

  /** The classic-level database under dynalite (abstract-level 3), as far as we use it. */
  export interface DynaliteLevel {
    /** Resolves once the database is open (it opens by itself, in the background). */
    open(): Promise<void>;
    attachResource(resource: object): void;
    detachResource(resource: object): void;
    getProperty(property: string): string;
    approximateSize(start: string, end: string): Promise<number>;
  }

  /** `server.store` exists only with patches/dynalite+4.0.0.patch applied (npm's postinstall). */
  interface DynaliteStore {
    db: DynaliteLevel;
    lifecycleManager: { getPendingOperationCount(): number };
  }

  function dynalite(options?: DynaliteOptions): Server & { store: DynaliteStore };
  export default dynalite;
}
