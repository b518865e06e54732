// Builds the one embeddable file: dist/agent-task-status.js, an ES module with Lit included, so a
// host page needs a single <script type="module">. The demo is built by vite.demo.config.ts.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    minify: true,
    sourcemap: true,
    lib: {
      entry: 'widget/index.ts',
      formats: ['es'],
      fileName: () => 'agent-task-status.js',
    },
  },
});
