// Stands in for zod's `locales/index.js` in the bundles (webpack.config.js): English only, the locale
// zod configures by default and the only one the app uses. Its 64 other locales cost ~1.3 MB of V8
// heap in each isolate that loads zod. `z.locales` then holds `en` alone.
export { default as en } from 'zod/v4/locales/en.js';
