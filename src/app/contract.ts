/** `peak-pressure contract`: publish every zod contract as a JSON Schema file. */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ZodType, z } from 'zod';
import { BINANCE_CONTRACTS } from '../binance/contracts';
import { CORE_CONTRACTS } from '../core/contracts';
import { WindowRowSchema } from '../sinks/window-row';
import { ensureDirSync } from '../files/dirs';
import { tempPathFor } from '../files/temp-files';

/** Every published contract: each source adapter's payloads, then the project's own (the PostgreSQL `windows` table's json among them). */
export const CONTRACTS: Readonly<Record<string, ZodType>> = Object.freeze({ ...BINANCE_CONTRACTS, ...CORE_CONTRACTS, 'window-row': WindowRowSchema });

/** File name → JSON text, exactly as `contract` writes it. */
export function renderContracts(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, schema] of Object.entries(CONTRACTS)) {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
    out.set(`${name}.schema.json`, `${JSON.stringify({ $id: `peak-pressure/${name}`, ...json }, null, 2)}\n`);
  }
  return out;
}

/** Names of files in `dir` that differ from what would be generated (missing, stale or extra). */
export function staleContracts(dir: string): string[] {
  const want = renderContracts();
  const stale: string[] = [];
  let have: string[];
  try {
    have = readdirSync(dir).filter((f) => f.endsWith('.schema.json'));
  } catch {
    return [...want.keys()];
  }
  for (const [file, text] of want) {
    let cur: string | null;
    try {
      cur = readFileSync(join(dir, file), 'utf8');
    } catch {
      cur = null;
    }
    if (cur !== text) stale.push(file);
  }
  for (const f of have) if (!want.has(f)) stale.push(f);
  return stale;
}

export function writeContracts(dir: string): string[] {
  ensureDirSync(dir);
  const want = renderContracts();
  for (const f of readdirSync(dir)) if (f.endsWith('.schema.json') && !want.has(f)) rmSync(join(dir, f));
  // Each file appears whole: written beside itself, then renamed over the old one.
  for (const [file, text] of want) {
    const tmp = tempPathFor(join(dir, file));
    writeFileSync(tmp, text);
    renameSync(tmp, join(dir, file));
  }
  return [...want.keys()];
}
