// Builds the one embeddable file: dist/agent-task-status.js, an ES module with Lit included, so a
// host page needs a single <script type="module">. The demo is built by vite.demo.config.ts.
import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vite';
import {
  minifyHtmlTemplates,
  STYLES_MODULE,
  stylesModule,
  writeStylesModule,
} from './scripts/build-widget.js';

/**
 * Builds from the stylesheet as it is now (scripts/build-widget.ts). A build that writes dist/ also
 * regenerates the styles module in the sources; one in memory (the size budget) leaves them alone.
 */
function widgetStyles(): Plugin {
  let write = true;
  return {
    name: 'widget-styles',
    configResolved(config) {
      write = config.build.write;
    },
    async buildStart() {
      if (write) await writeStylesModule();
    },
    async load(id) {
      return id === STYLES_MODULE ? stylesModule() : null;
    },
  };
}

/** Strips the indentation of the element's Lit templates (scripts/build-widget.ts). */
function htmlTemplates(): Plugin {
  return {
    name: 'html-templates',
    enforce: 'pre',
    transform(code, id) {
      if (!/\/widget\/.*\.ts$/.test(id) || !code.includes('html`')) return null;
      // Line breaks are kept, so the lines of the source map stay right.
      return { code: minifyHtmlTemplates(code, id), map: null };
    },
  };
}

/**
 * Minifies the bundle with esbuild instead of Vite's own minifier: for this code esbuild's output
 * is about 1.4 KB smaller gzipped (issue 7). Vite's `minify: 'esbuild'` keeps whitespace in a
 * library's ES output, so the chunk is minified here, with its source map carried through.
 */
function esbuildMinify(): Plugin {
  return {
    name: 'esbuild-minify',
    enforce: 'post',
    async renderChunk(code) {
      const result = await transform(code, {
        minify: true,
        format: 'esm',
        target: 'es2022',
        sourcemap: true,
        legalComments: 'eof',
      });
      return { code: result.code, map: result.map };
    },
  };
}

export default defineConfig({
  plugins: [widgetStyles(), htmlTemplates(), esbuildMinify()],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    // Lowered and minified by esbuild above.
    target: 'esnext',
    minify: false,
    rolldownOptions: { output: { minify: false } },
    sourcemap: true,
    lib: {
      entry: 'widget/index.ts',
      formats: ['es'],
      fileName: () => 'agent-task-status.js',
    },
  },
});
