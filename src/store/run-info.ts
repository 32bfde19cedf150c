/** What a run row records about the build and the configuration that produced its events. */
import { createHash } from 'node:crypto';
import { version } from '../../package.json';

export const APP_VERSION: string = version;

function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, stable((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** sha256 of the configuration as JSON with sorted keys (first 16 hex digits): equal configs, equal hashes. */
export function configHash(config: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(stable(config)) ?? 'undefined')
    .digest('hex')
    .slice(0, 16);
}
