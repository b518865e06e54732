// Writes a gzip (-9) and a Brotli (quality 11) copy beside each script, stylesheet and page a build
// emits; the server sends them to browsers that accept them (serveStatic's `precompressed`). The
// widget is about 41 KB of JavaScript: compressed once at build time, at the highest levels,
// instead of never (or on every request).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

const COMPRESSIBLE = /\.(js|css|html|svg|json|map)$/;

/** `content` gzipped at level 9. */
export const gzipped = (content: Uint8Array): Buffer => gzipSync(content, { level: 9 });

/** `content` compressed with Brotli at its highest quality. */
export const brotlied = (content: Uint8Array): Buffer =>
  brotliCompressSync(content, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: content.byteLength,
    },
  });

/** The precompressed copies of `content`, by the suffix serveStatic looks for. */
export function compressedCopies(content: Uint8Array): { suffix: '.gz' | '.br'; bytes: Buffer }[] {
  return [
    { suffix: '.gz', bytes: gzipped(content) },
    { suffix: '.br', bytes: brotlied(content) },
  ];
}

/** A Vite plugin: once the bundle is written, writes the compressed copies of its text files. */
export function precompress(): Plugin {
  return {
    name: 'precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      for (const [fileName, file] of Object.entries(bundle)) {
        if (!COMPRESSIBLE.test(fileName)) continue;
        const content = Buffer.from(file.type === 'chunk' ? file.code : file.source);
        for (const { suffix, bytes } of compressedCopies(content)) {
          writeFileSync(join(options.dir!, fileName + suffix), bytes);
        }
      }
    },
  };
}
