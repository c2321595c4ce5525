// Builds what runs in production: dist/caretaker.mjs plus dist/chunks/, every dependency bundled in.
// Why a bundle: start-up reads a few files instead of ~1,500 modules (about twice as fast to ready, and
// less memory), and install.sh ships it with no node_modules and no npm registry.
// Why chunks: the libraries a module loads only when it needs them (acme-client, ioredis, pg) are
// split out, so an agent that does not use them never even compiles them (about 60 ms less to ready).
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// `node scripts/build.mjs [OUTDIR]`: tests build into their own directory, never over a shared dist/.
const outdir = process.argv[2] ?? 'dist';

// `import { z } from 'zod'` is a namespace holding every export, so nothing of zod can be tree-shaken,
// including z.locales: 64 translations of its error messages, 300 KB (an eighth of the bundle) that V8
// would parse and keep. The agent's messages are English and it never calls z.locales, so the index of
// locales (z.locales and z.core.locales) resolves to English alone.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir) ? { path: 'zod-locales-en', namespace: 'zod-english-only' } : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
      contents: "export { default as en } from 'zod/v4/locales/en.js';",
      resolveDir: fileURLToPath(new URL('..', import.meta.url)),
    }));
  },
};

// pg asks at load whether it runs on Cloudflare Workers: on Node 20, which has no `navigator`, by
// constructing a fetch Response, which loads Node's whole undici (about 12 MiB of RSS, 2 MiB of heap)
// into an agent that never fetches. The bundle only runs on Node: the answer is no. The build fails
// if a pg upgrade changes the function, so the patch cannot silently stop applying.
const CLOUDFLARE_CHECK = 'function isCloudflareRuntime() {';
const pgOnNodeOnly = {
  name: 'pg-on-node-only',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(CLOUDFLARE_CHECK)) throw new Error(`${args.path}: no ${CLOUDFLARE_CHECK} to short-circuit; check the pg upgrade`);
      return { contents: source.replace(CLOUDFLARE_CHECK, `${CLOUDFLARE_CHECK}\n  return false;`), loader: 'js' };
    });
  },
};

// Chunk names carry content hashes: start clean so no chunk of an older build is left beside the new.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { caretaker: fileURLToPath(new URL('../src/agent/main.ts', import.meta.url)) },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node18.19',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  // V8 keeps a script's source in memory, as two bytes a character once a single one is not ASCII:
  // ASCII-only output without comments or indentation halves that (about 11 MiB down to 4 MiB).
  charset: 'ascii',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  // Identifiers keep their names: some dependencies tell errors apart by constructor name.
  keepNames: true,
  plugins: [zodEnglishOnly, pgOnNodeOnly],
  define: { __CARETAKER_VERSION__: JSON.stringify(version) },
  // Some dependencies are CommonJS and call require(); an ES module bundle has to provide it.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
