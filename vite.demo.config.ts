// The demo page (manual QA). It loads the widget from the server's embeddable file at run time,
// like a host page would, so it is built separately from the widget.
import { defineConfig } from 'vite';
import { precompress } from './scripts/precompress.js';

export default defineConfig({
  plugins: [precompress()],
  root: 'demo',
  base: '/',
  build: {
    outDir: '../dist/demo',
    emptyOutDir: true,
    target: 'es2022',
  },
});
