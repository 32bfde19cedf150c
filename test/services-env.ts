/**
 * Where the shared Redis and PostgreSQL test servers are found: the URLs in PP_TEST_REDIS_URL /
 * PP_TEST_POSTGRES_URL, or the `env.json` that `bash scripts/services.sh start` writes into
 * $PP_SERVICES_DIR (default: the same folder that script uses). No vitest here: the tests' global
 * setup (./global-tmp) and the sinks benchmark read it too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServiceUrls {
  redis: string;
  postgres: string;
}

/** scripts/services.sh's default folder, under `base` (TMPDIR, else the system's temp folder). */
export function defaultServicesDir(base: string = process.env.TMPDIR ?? tmpdir()): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(base, `peak-pressure-services-${uid}`);
}

export function servicesDir(): string {
  return process.env.PP_SERVICES_DIR ?? defaultServicesDir();
}

/** The servers' URLs, or null when none are set up (a missing or unreadable env.json included). */
export function readServiceUrls(): ServiceUrls | null {
  const r = process.env.PP_TEST_REDIS_URL;
  const p = process.env.PP_TEST_POSTGRES_URL;
  if (r && p) return { redis: r, postgres: p };
  const file = join(servicesDir(), 'env.json');
  if (!existsSync(file)) return null;
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return typeof j.PP_TEST_REDIS_URL === 'string' && typeof j.PP_TEST_POSTGRES_URL === 'string'
      ? { redis: j.PP_TEST_REDIS_URL, postgres: j.PP_TEST_POSTGRES_URL }
      : null;
  } catch {
    return null;
  }
}
