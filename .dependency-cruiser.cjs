/** "Which room am I in": the import rules of STYLE.md, checked by `npm run lint`. */
module.exports = {
  forbidden: [
    {
      name: 'module-stays-in-its-room',
      comment: 'A module imports only its own folder and src/agent/kit/.',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/', pathNot: ['^src/modules/$1/', '^src/agent/kit/'] },
    },
    {
      name: 'module-list-imports-only-module-doors',
      comment: 'src/modules/index.ts names each module by its front door, nothing deeper.',
      severity: 'error',
      from: { path: '^src/modules/index\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/modules/[^/]+/index\\.ts$', '^src/agent/kit/'] },
    },
    {
      name: 'agent-knows-modules-only-through-the-list',
      comment: 'Outside kit/, the agent reaches modules only through src/modules/index.ts.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^src/modules/', pathNot: '^src/modules/index\\.ts$' },
    },
    {
      name: 'kit-is-self-contained',
      comment: 'The module SDK depends on nothing else in src/.',
      severity: 'error',
      from: { path: '^src/agent/kit/' },
      to: { path: '^src/', pathNot: '^src/agent/kit/' },
    },
    {
      name: 'metrics-know-nothing-of-modules',
      severity: 'error',
      from: { path: '^src/metrics/' },
      to: { path: '^src/(modules|agent)/', pathNot: '^src/agent/kit/' },
    },
    {
      name: 'no-circular',
      comment: 'Type-only imports count too (tsPreCompilationDeps): a type cycle still ties two files together.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
