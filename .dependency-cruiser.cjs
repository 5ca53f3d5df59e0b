// The layers of zkvault (docs/architecture.md), lowest first. A module may import its own layer and
// the layers below it, never one above; a few siblings are kept apart (rules below). Run by the test
// command (scripts/check.sh): `npx depcruise src`.
const layers = [
  ['base', '^src/(errors|version)\\.ts$'],
  ['formats', '^src/formats/'],
  ['core', '^src/core/'],
  ['storage, archive', '^src/(storage|archive)/'],
  ['repository', '^src/repository/'],
  ['zk, datadir', '^src/(zk|datadir)/'],
  ['sources, sinks', '^src/(sources|sinks)/'],
  ['services', '^src/services/'],
  ['output', '^src/output/'],
  ['commands', '^src/commands/'],
  ['cli', '^src/cli\\.ts$'],
];

const upward = layers.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name.replace(/[^a-z]+/g, '-')}`,
  comment: `${name} may not import a higher layer (${layers.slice(i + 1).map(([n]) => n).join(', ')})`,
  severity: 'error',
  from: { path },
  to: {
    path: layers.slice(i + 1).map(([, p]) => p).join('|'),
    // Renderers know the shape of service results: a type-only import into output is not a dependency.
    ...(name === 'output' ? {} : {}),
  },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import circles make layers meaningless', from: {}, to: { circular: true } },
    ...upward.filter((r) => r.name !== 'layer-output'),
    {
      name: 'layer-output',
      comment: 'output renders results: it may read the types of what services return, but runs none of their code',
      severity: 'error',
      from: { path: '^src/output/' },
      to: { path: '^src/(commands|cli)|^src/(services|sources|sinks|zk|datadir|repository|storage|archive)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'zk-is-online-only',
      comment: "src/zk is the live ensemble: no server files, no repository, no local file I/O",
      severity: 'error',
      from: { path: '^src/zk/' },
      to: { path: '^src/datadir/|^(node:)?fs(/promises)?$' },
    },
    {
      name: 'datadir-is-offline-only',
      comment: 'src/datadir is server files: it never talks to an ensemble',
      severity: 'error',
      from: { path: '^src/datadir/' },
      to: { path: '^src/zk/' },
    },
    {
      name: 'sources-and-sinks-apart',
      comment: 'a tree source and a restore sink meet only in a service',
      severity: 'error',
      from: { path: '^src/(sources|sinks)/' },
      to: { path: '^src/(sources|sinks)/', pathNot: '^src/$1/' },
    },
    {
      name: 'services-do-not-import-services',
      comment: 'each service is one command (a file, with its parts in a folder of the same name); what two share lives in a lower layer',
      severity: 'error',
      from: { path: '^src/services/([^/.]+)', pathNot: '^src/services/schedule\\.ts$' },
      to: { path: '^src/services/', pathNot: '^src/services/$1(\\.ts$|/)' },
    },
    {
      name: 'schedule-composes-backup-and-prune',
      comment: 'schedule runs a backup, then prune: those, and no other service',
      severity: 'error',
      from: { path: '^src/services/schedule\\.ts$' },
      to: { path: '^src/services/', pathNot: '^src/services/(backup|physical-backup|prune)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
    exclude: { path: '^src/formats/wasm/checksum-wasm\\.ts$' },
  },
};
