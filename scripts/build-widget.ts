// Build steps of the embeddable widget (vite.config.ts calls them; `node --import tsx
// scripts/build-widget.ts` regenerates the styles module alone).
//
// The element's stylesheet is written in agent-task-status.css and also kept minified in a
// generated module, agent-task-status.styles.ts, which the element imports: the browser tests and
// the dev server load the TypeScript sources as they are, with no CSS loader.
// test/widget/build-widget.test.ts fails when the generated module is older than the stylesheet.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { format, resolveConfig } from 'prettier';
import { build, parseSync, Visitor, type Rolldown } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
export const STYLES_CSS = `${root}widget/agent-task-status/agent-task-status.css`;
export const STYLES_MODULE = `${root}widget/agent-task-status/agent-task-status.styles.ts`;
const VITE_CONFIG = `${root}vite.config.ts`;

export interface WidgetBundle {
  /** dist/agent-task-status.js as `npm run build` writes it (its source map comment included). */
  code: string;
  /** Each input module's length in that file before minifying, largest first. */
  modules: { id: string; length: number }[];
  /** Files the main one imports statically: none, so one <script> tag is the whole embed. */
  staticImports: string[];
  /** The chunks loaded on demand (the cross-tab sharing), beside the main file in dist/. */
  lazyChunks: { fileName: string; code: string }[];
}

/**
 * The embeddable file, built in memory by vite.config.ts itself: the size budget
 * (test/widget/bundle-budget.test.ts) and bench/size.ts measure exactly what ships, on a fresh
 * clone too, and cannot drift from the build.
 */
export async function buildWidgetBundle(): Promise<WidgetBundle> {
  // A library build answers with one output per format; vite.config.ts has one, `es`.
  const [output] = [
    await build({ configFile: VITE_CONFIG, logLevel: 'silent', build: { write: false } }),
  ].flat() as Rolldown.RolldownOutput[];
  const chunks = output!.output.filter((file) => file.type === 'chunk');
  const entry = chunks.find((chunk) => chunk.isEntry)!;
  const modules = Object.entries(entry.modules)
    .map(([id, module]) => ({ id: id.replace(root, ''), length: module.renderedLength }))
    .sort((a, b) => b.length - a.length);
  return {
    code: entry.code,
    modules,
    staticImports: entry.imports,
    lazyChunks: chunks.filter((chunk) => !chunk.isEntry).map(({ fileName, code }) => ({ fileName, code })),
  };
}

/** The text of agent-task-status.styles.ts for the stylesheet as it is now. */
export async function stylesModule(): Promise<string> {
  const { code } = await transform(readFileSync(STYLES_CSS, 'utf8'), { loader: 'css', minify: true });
  const source = `// Generated from agent-task-status.css by scripts/build-widget.ts (npm run build): edit the
// stylesheet, not this file. Minified as it ships; the build makes its own from the stylesheet.
import { unsafeCSS } from 'lit';

// unsafeCSS only because the text is ours, from a file in this folder: nothing is interpolated.
export const styles = unsafeCSS(${JSON.stringify(code.trim())});
`;
  return format(source, { ...(await resolveConfig(STYLES_MODULE)), filepath: STYLES_MODULE });
}

/** Regenerates agent-task-status.styles.ts when the stylesheet changed; true if it did. */
export async function writeStylesModule(): Promise<boolean> {
  const next = await stylesModule();
  if (readFileSync(STYLES_MODULE, 'utf8') === next) return false;
  writeFileSync(STYLES_MODULE, next);
  return true;
}

/**
 * Lit templates (html`…`) keep their line breaks but lose the indentation around them: outside
 * `white-space: pre*` (none of the element's templates has such an element) a run of white space
 * shows as one space, a line break alone included. Line breaks stay so that the bundle's source
 * map still points at the right lines. Other templates and strings are left alone.
 */
export function minifyHtmlTemplates(code: string, filename: string): string {
  const { program } = parseSync(filename, code);
  const edits: { at: number; raw: string }[] = [];
  new Visitor({
    TaggedTemplateExpression(node) {
      if (node.tag.type !== 'Identifier' || node.tag.name !== 'html') return;
      for (const quasi of node.quasi.quasis) {
        // The element's span may or may not include the delimiters (` } ${): find the text in it.
        const at = code.indexOf(quasi.value.raw, quasi.start);
        if (at >= 0 && at < quasi.end) edits.push({ at, raw: quasi.value.raw });
      }
    },
  }).visit(program);
  let out = code;
  for (const { at, raw } of edits.sort((a, b) => b.at - a.at)) {
    out = out.slice(0, at) + raw.replace(/[ \t]*\n[ \t]*/g, '\n') + out.slice(at + raw.length);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log((await writeStylesModule()) ? `wrote ${STYLES_MODULE}` : 'styles are up to date');
}
