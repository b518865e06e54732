/** Path of the Chromium binary to drive: CHROME_PATH, else Debian's. Throws with an instruction. */
export function findChromium(): string;

/** Flags Chromium needs on this machine (headless is set by each launcher). */
export const CHROMIUM_ARGS: string[];
