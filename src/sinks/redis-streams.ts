/**
 * The Redis Streams layout (SPEC §22), shared by the sink that writes it and the reference consumer
 * that reads it: stream names, the fields of an entry, and the contract check every entry must pass.
 *
 *   peak-pressure:events       promoted events of every rule set and policy
 *   peak-pressure:audit        stage, health, alert, connection and counter records (audit envelopes)
 *   <stream>:dlq               entries a consumer could not use, with the reason
 *
 * An entry's fields: `id` (event id; `<run_id>:<seq>` for an audit record), `type` (rule set or
 * policy id; the audit event type), `json` (the canonical contract JSON), plus `observer` (the
 * local store's id) and `run` (the run that produced it).
 */
import type { z } from 'zod';
import { RULE_SET_ID } from '../core/constants';
import { AuditEnvelopeSchema } from '../core/contracts/audit';
import { PromotedEventSchema } from '../core/contracts/promoted';
import { POLICY_ID } from '../core/policy/constants';
import { PolicyEventSchema } from '../core/policy/contracts';

export const EVENTS_STREAM = 'peak-pressure:events';
export const AUDIT_STREAM = 'peak-pressure:audit';
/** `XADD … MAXLEN ~ 100000`: Redis trims whole macro nodes, so a stream holds at least this many entries. */
export const STREAM_MAXLEN = 100_000;
export const DLQ_SUFFIX = ':dlq';

export type StreamName = 'events' | 'audit';
export const STREAM_KEYS: Readonly<Record<StreamName, string>> = { events: EVENTS_STREAM, audit: AUDIT_STREAM };

/** The contract of each event type on the events stream. */
const EVENT_CONTRACTS: Readonly<Record<string, z.ZodType<{ event_id: string }>>> = {
  [RULE_SET_ID]: PromotedEventSchema,
  [POLICY_ID]: PolicyEventSchema,
};

export interface StreamEntry {
  stream: StreamName;
  id: string;
  type: string;
  /** The canonical JSON text, exactly as the entry carries it. */
  json: string;
  observer: string | null;
  run: string | null;
}

export type EntryCheck = { ok: true; entry: StreamEntry } | { ok: false; reason: string };

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i === undefined ? 'invalid' : `${i.path.join('.') || '(root)'}: ${i.message}`;
}

/** Field list as Redis returns it ([name, value, name, value, …]) → a record (the last value of a repeated name wins). */
export function fieldsOf(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** Whether an entry of `stream` is one this build can use: its fields, its JSON, and the contract of its type. */
export function checkEntry(stream: StreamName, fields: Readonly<Record<string, string>>): EntryCheck {
  const { id, type, json } = fields;
  if (id === undefined || type === undefined || json === undefined) {
    const missing = ['id', 'type', 'json'].filter((k) => fields[k] === undefined);
    return { ok: false, reason: `missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    return { ok: false, reason: `json is not JSON (${(e as Error).message})` };
  }
  if (stream === 'events') {
    const contract = EVENT_CONTRACTS[type];
    if (contract === undefined) return { ok: false, reason: `unknown event type ${JSON.stringify(type)} (known: ${Object.keys(EVENT_CONTRACTS).join(', ')})` };
    const r = contract.safeParse(value);
    if (!r.success) return { ok: false, reason: `not a ${type} event: ${firstIssue(r.error)}` };
    if (r.data.event_id !== id) return { ok: false, reason: `id ${JSON.stringify(id)} differs from the event's event_id ${JSON.stringify(r.data.event_id)}` };
  } else {
    const r = AuditEnvelopeSchema.safeParse(value);
    if (!r.success) return { ok: false, reason: `not an audit envelope: ${firstIssue(r.error)}` };
    if (r.data.event_type !== type) return { ok: false, reason: `type ${JSON.stringify(type)} differs from the record's event_type ${r.data.event_type}` };
    if (`${r.data.run_id}:${r.data.seq}` !== id) return { ok: false, reason: `id ${JSON.stringify(id)} differs from the record's run_id:seq` };
  }
  return { ok: true, entry: { stream, id, type, json, observer: fields.observer ?? null, run: fields.run ?? null } };
}
