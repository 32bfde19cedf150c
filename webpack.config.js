// Bundles our TypeScript into dist/ (one file per entry point). Packages stay external and are
// loaded from node_modules at run time: NodeGui is a native addon, and ws/undici/pino carry
// optional native or dynamic requires that bundling would break. The portable bundle ships the
// pruned production node_modules next to dist/. zod is the exception: bundled from its ES build
// with its locales index replaced by English alone (scripts/webpack/zod-locales-en.mjs), which
// spares each isolate the other 64 locales; zod's code and messages are otherwise its own.
const path = require('node:path');

const entries = {
  cli: './src/app/cli.ts',
  main: './src/app/main.ts',
  worker: './src/app/worker.ts',
  'sink-worker': './src/sinks/sink-worker.ts',
  bench: './bench/bench.ts',
};

const fs = require('node:fs');
const webpack = require('webpack');
const { AsciiOnlyPlugin } = require('./scripts/webpack/ascii-only.cjs');

module.exports = (_env, argv) => ({
  mode: argv.mode || 'production',
  target: 'node20',
  entry: Object.fromEntries(Object.entries(entries).filter(([, p]) => fs.existsSync(path.join(__dirname, p)))),
  output: {
    path: path.join(__dirname, 'dist'),
    filename: '[name].js',
    clean: true,
  },
  resolve: {
    extensions: ['.ts', '.js'],
    alias: { zod$: path.join(__dirname, 'node_modules/zod/index.js') },
  },
  module: {
    rules: [{ test: /\.ts$/, exclude: /node_modules/, use: { loader: 'ts-loader', options: { transpileOnly: true } } }],
  },
  externals: [
    ({ request }, callback) => {
      if (request && request !== 'zod' && !request.startsWith('.') && !path.isAbsolute(request) && !request.startsWith('node:')) {
        return callback(null, `commonjs ${request}`);
      }
      return callback();
    },
  ],
  // Keep names readable in stack traces; the bundle is for a desktop app, not a web page.
  optimization: { minimize: false },
  plugins: [
    new webpack.NormalModuleReplacementPlugin(/^\.\.\/locales\/index\.js$/, (resource) => {
      if (/[\\/]zod[\\/]v4[\\/]/.test(resource.context)) resource.request = path.join(__dirname, 'scripts', 'webpack', 'zod-locales-en.mjs');
    }),
    // One byte a character for the bundles' sources in the V8 heaps (scripts/webpack/ascii-only.cjs).
    new AsciiOnlyPlugin(),
  ],
  devtool: 'source-map',
  node: { __dirname: false, __filename: false },
  stats: 'errors-warnings',
});
