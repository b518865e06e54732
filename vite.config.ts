// Builds the one embeddable file: dist/agent-task-status.js, an ES module with Lit included, so a
// host page needs a single <script type="module">. The demo is built by vite.demo.config.ts.
import { defineConfig, minify, type Plugin } from 'vite';
import {
  minifyHtmlTemplates,
  STYLES_MODULE,
  stylesModule,
  writeStylesModule,
} from './scripts/build-widget.js';
import { precompress } from './scripts/precompress.js';

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
 * Minifies the bundle with Oxc's minifier (the one Vite 8 is built on, exported by vite), top-level
 * names mangled: for this code about 320 B smaller gzipped than esbuild's minifier, which was
 * itself about 1.4 KB smaller than Vite's `build.minify` for a library's ES output (issue 7).
 */
function minifyChunk(): Plugin {
  return {
    name: 'minify-chunk',
    enforce: 'post',
    async renderChunk(code, chunk) {
      const result = await minify(chunk.fileName, code, {
        module: true,
        compress: { target: 'es2022' },
        mangle: { toplevel: true },
        codegen: { legalComments: 'eof' },
        sourcemap: true,
      });
      if (result.errors.length) throw new Error(result.errors.map((error) => error.message).join('\n'));
      return { code: result.code, map: result.map };
    },
  };
}

export default defineConfig({
  plugins: [widgetStyles(), htmlTemplates(), minifyChunk(), precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    // Minified by minifyChunk above.
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
