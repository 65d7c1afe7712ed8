/**
 * Layering rules from ARCHITECTURE.md: an import may only point down a layer,
 * and no service reaches into another service's folder.
 */
const layer = (name) => `^src/${name}/`;
const forbidUp = (from, allowed) => ({
  name: `${from}-imports-only-${allowed.join('-') || 'node'}`,
  severity: 'error',
  from: { path: layer(from) },
  to: {
    path: '^src/',
    pathNot: [layer(from), ...allowed.map(layer)],
  },
});

module.exports = {
  forbidden: [
    forbidUp('lib', []),
    forbidUp('codec', ['lib']),
    forbidUp('proto', ['codec', 'lib']),
    forbidUp('transport', ['codec', 'lib']),
    forbidUp('runtime', ['proto', 'transport', 'codec', 'lib']),
    forbidUp('store', ['lib']),
    forbidUp('config', ['lib']),
    forbidUp('services', ['runtime', 'proto', 'transport', 'codec', 'store', 'config', 'lib']),
    forbidUp('cli', ['services', 'config', 'store', 'lib']),
    {
      name: 'no-service-to-service',
      comment:
        'A service never reaches into another service folder; shared code moves down a layer.',
      severity: 'error',
      from: { path: '^src/services/([^/]+)/' },
      to: { path: '^src/services/', pathNot: '^src/services/$1/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-to-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.test\\.ts$' },
  },
};
