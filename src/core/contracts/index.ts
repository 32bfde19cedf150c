/** The project's own contracts, by the file name their JSON Schema is published under in docs/contracts/. */
import type { ZodType } from 'zod';
import { AlertSchema } from './alert';
import { AuditEnvelopeSchema, CountersSampleSchema } from './audit';
import * as canonical from './canonical';
import { DoctorCheckedSchema } from './doctor';
import { PromotedEventSchema } from './promoted';
import { SnapshotSchema } from './snapshot';

export const CORE_CONTRACTS: Readonly<Record<string, ZodType>> = Object.freeze({
  'event.TRADE': canonical.TradeEventSchema,
  'event.LIQUIDATION': canonical.LiquidationEventSchema,
  'event.KLINE': canonical.KlineEventSchema,
  'event.OPEN_INTEREST': canonical.OpenInterestEventSchema,
  'event.MARK_PRICE': canonical.MarkPriceEventSchema,
  'event.canonical': canonical.CanonicalEventSchema,
  'promoted-event': PromotedEventSchema,
  snapshot: SnapshotSchema,
  'audit-envelope': AuditEnvelopeSchema,
  'audit.COUNTERS_SAMPLED': CountersSampleSchema,
  'audit.DOCTOR_CHECKED': DoctorCheckedSchema,
  alert: AlertSchema,
});
