/**
 * NodeGui's style-sheet module requires postcss (with its source maps and nanoid), a flexbox
 * prefixer and cuid2 (with bignumber.js and a SHA-3) when NodeGui loads, for its default
 * `setStyleSheet(css)` pass and `setInlineStyle`. The window uses neither: every style sheet is set
 * with `postprocess = false`, as plain Qt syntax. Loaded anyway they are ~2 MB of the UI isolate's
 * heap (their sources and compiled code, measured with `require` + `gc()`) for the life of the
 * process. This puts forwarding stand-ins for the three into Node's module cache before NodeGui is
 * required, so the real modules load on their first call instead: what NodeGui does with them is
 * unchanged, only when they load.
 */
import Module from 'node:module';

type Fn = (...args: unknown[]) => unknown;
type Exports = Record<string, unknown>;

/** The exports each stand-in gives NodeGui (`__importDefault(require(name)).default` there), calling `real()` for the module itself. */
const STAND_INS: Record<string, (real: () => Exports) => unknown> = {
  // module.exports is the postcss function itself
  postcss: (real) =>
    function postcss(...args: unknown[]): unknown {
      return (real() as unknown as Fn)(...args);
    },
  // TypeScript output: __esModule with a default export
  'postcss-nodegui-autoprefixer': (real) => ({ __esModule: true, default: (...args: unknown[]): unknown => (real().default as Fn)(...args) }),
  // an ES module required as a namespace; NodeGui calls createId()
  '@paralleldrive/cuid2': (real) => ({
    createId: (): unknown => (real().createId as Fn)(),
    init: (...args: unknown[]): unknown => (real().init as Fn)(...args),
    isCuid: (...args: unknown[]): unknown => (real().isCuid as Fn)(...args),
    getConstants: (): unknown => (real().getConstants as Fn)(),
  }),
};

/** Call before the first `require('@nodegui/nodegui')`. Returns the modules that were deferred (those NodeGui resolves and that were not loaded yet). */
export function deferNodeGuiStyleSheetModules(fromFile: string = __filename): string[] {
  const appRequire = Module.createRequire(fromFile);
  const cache = appRequire.cache;
  let nodeguiRequire: NodeJS.Require;
  try {
    nodeguiRequire = Module.createRequire(appRequire.resolve('@nodegui/nodegui'));
  } catch {
    return []; // NodeGui is missing: its own require will say so
  }
  const files = new Map<string, string>();
  for (const name of Object.keys(STAND_INS)) {
    try {
      const file = nodeguiRequire.resolve(name);
      if (cache[file] === undefined) files.set(name, file);
    } catch {
      // a NodeGui version without it
    }
  }
  // The first call to any stand-in loads all the real modules, after taking every stand-in out of
  // the cache: the prefixer itself requires postcss.
  let loaded: Map<string, Exports> | null = null;
  const realOf = (name: string) => (): Exports => {
    if (loaded === null) {
      for (const file of files.values()) delete cache[file];
      loaded = new Map([...files.keys()].map((n) => [n, nodeguiRequire(n) as Exports]));
    }
    return loaded.get(name) as Exports;
  };
  const deferred: string[] = [];
  for (const [name, file] of files) {
    const m = new Module(file);
    m.filename = file;
    m.loaded = true;
    m.exports = (STAND_INS[name] as (real: () => Exports) => unknown)(realOf(name));
    cache[file] = m;
    deferred.push(name);
  }
  return deferred;
}
