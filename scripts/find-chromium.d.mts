/** Path of the Chromium binary to drive: CHROME_PATH, else Debian's. Throws with an instruction. */
export function findChromium(): string;
