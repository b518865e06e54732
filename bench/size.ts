// 4. Widget size: the embeddable file as `npm run build` makes it, minified + gzip -9, Lit
// included, against the browser bundles of socket.io-client and centrifuge measured the same way.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWidgetBundle } from '../scripts/build-widget.js';
import { brotlied, gzipped } from '../scripts/precompress.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface SizeResult {
  name: string;
  /** Where the bytes came from. */
  source: string;
  minBytes: number;
  gzipBytes: number;
  /** Brotli at quality 11, as the build precompresses the widget and the server sends it. */
  brotliBytes: number;
}

/** The sizes of `bytes`, compressed as the build compresses the widget (scripts/precompress.ts). */
function measured(name: string, source: string, bytes: Uint8Array): SizeResult {
  return {
    name,
    source,
    minBytes: bytes.length,
    gzipBytes: gzipped(bytes).length,
    brotliBytes: brotlied(bytes).length,
  };
}

function measureFile(name: string, path: string): SizeResult {
  return measured(name, path.replace(ROOT, ''), readFileSync(path));
}

/** esbuild, bundled and minified for browsers: one minifier for every contender. */
export async function esbuildSize(name: string, entry: string): Promise<SizeResult> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  return measured(name, `esbuild ${entry.replace(ROOT, '')}`, result.outputFiles[0]!.contents);
}

/** A file inside an installed package (some packages' `exports` hide package.json). */
function packageFile(pkg: string, file: string): string {
  return join(ROOT, 'node_modules', pkg, file);
}

/**
 * The sizes, the widget built by the same in-memory build as the size budget
 * (scripts/build-widget.ts, with vite.config.ts). The widget is "not built" when the build fails.
 */
export async function sizes(): Promise<{
  widget: SizeResult | null;
  buildError: string | null;
  all: SizeResult[];
}> {
  let widget: SizeResult | null = null;
  let buildError: string | null = null;
  try {
    const { code } = await buildWidgetBundle();
    widget = measured('widget (vite build)', 'vite.config.ts', Buffer.from(code));
  } catch (error) {
    buildError = String(error).split('\n').slice(0, 3).join(' ');
  }
  const all: SizeResult[] = [];
  if (widget) all.push(widget);
  all.push(
    measureFile(
      'socket.io-client (dist esm.min)',
      packageFile('socket.io-client', 'dist/socket.io.esm.min.js'),
    ),
    measureFile('centrifuge (dist)', packageFile('centrifuge', 'dist/centrifuge.js')),
  );
  if (existsSync(join(ROOT, 'widget/index.ts')))
    all.push(await esbuildSize('widget (esbuild)', 'widget/index.ts'));
  all.push(
    await esbuildSize('socket.io-client (esbuild)', 'socket.io-client'),
    await esbuildSize('centrifuge (esbuild)', 'centrifuge'),
  );
  return { widget, buildError, all };
}
