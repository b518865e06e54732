// `npm run manifest` writes custom-elements.json from the element's JSDoc (its public contract).
// Lit's `static properties` also list internal reactive state ({ state: true }, on private
// fields), which the analyzer reports as attributes: those are dropped, as are undescribed events
// (a dispatch helper's parameter is not an event).
export default {
  globs: ['widget/agent-task-status/agent-task-status.ts', 'widget/agent-task-status/define.ts'],
  outdir: '.',
  litelement: true,
  // package.json names the manifest itself; the freshness test must not rewrite it.
  packagejson: false,
  plugins: [
    {
      name: 'public-contract-only',
      packageLinkPhase({ customElementsManifest }) {
        for (const module of customElementsManifest.modules) {
          for (const declaration of module.declarations ?? []) {
            if (!declaration.customElement) continue;
            const hidden = (m) =>
              m.privacy === 'private' || m.privacy === 'protected' || m.name.startsWith('#');
            const internal = new Set((declaration.members ?? []).filter(hidden).map((m) => m.name));
            declaration.attributes = (declaration.attributes ?? []).filter(
              (a) => a.description && !internal.has(a.fieldName ?? a.name),
            );
            declaration.events = (declaration.events ?? []).filter((e) => e.description);
            declaration.members = (declaration.members ?? []).filter((m) => !hidden(m));
          }
        }
      },
    },
  ],
};
