import { randomBytes } from 'node:crypto';

/** RFC 4648 base32, lower case: no padding, no characters that need escaping in a URL. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A task id for a create request without one: `t_` + 80 random bits (16 base32 characters). */
export function newTaskId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = 't_';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
