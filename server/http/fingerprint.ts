import { createHash } from 'node:crypto';

/**
 * The Idempotency-Key fingerprint of a request body: sha256 of its canonical JSON (object keys
 * sorted at every depth), so a retry that serializes the same body in another key order still
 * matches, and any change of value does not.
 */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
