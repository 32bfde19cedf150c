/**
 * undici's `Agent` and `request`, loaded without undici's index. The index loads all of undici —
 * fetch, WebSocket, EventSource, the cache and mock agents — for a collector that sends about two
 * small GETs a second: 4.9 MB of V8 heap against 1.8 MB for these two modules (measured with
 * `require` + `gc()`, undici 7.30.2), in every run of the app. The paths are undici's own files
 * (the package has no `exports` map, and the version is pinned in package.json); `request` below
 * does what the index's `request(url, opts)` does: split the URL into origin and path, then call the
 * dispatcher's request API. test/rest*.test.ts drive it against real sockets; test/module-load
 * checks the index stays unloaded.
 */
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a file of the package, typed by its public class
export const Agent = require('undici/lib/dispatcher/agent') as typeof UndiciAgent;
export type Agent = UndiciAgent;

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the function the index mixes into Dispatcher.prototype.request
const requestApi = require('undici/lib/api/api-request') as RequestApi;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

/** `GET url` (or `opts.method`) on `opts.dispatcher`, as undici's top-level `request(url, opts)`. */
export function request(url: URL, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  return requestApi.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}
