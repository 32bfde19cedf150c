/**
 * Frame intake: every received frame (WS text or REST body) and every frame the socket refused
 * is recorded in the capture first — before detection, and also after a fatal error has stopped
 * detection — so the capture always holds every frame received. Then the frame goes through the
 * frame pipeline (the same call replay makes), its outcome is counted, malformed ones are dead-lettered
 * and promotions are reported and handed on (to the event record and the alerts). Bodies that arrive before the symbols are known (symbol selection)
 * wait and go through in arrival order once detection starts.
 */
import type { CaptureWriter } from '../capture/writer';
import type { CaptureGap } from '../capture/format';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { FramePipeline } from '../core/pipeline';
import type { Frame } from '../core/source';
import { InvariantError } from '../core/symbol-detector';
import { safeMessage } from '../text/safe';
import type { Operations } from './operations';
import type { Reporter } from './report';

export interface IntakeOptions {
  operations: Operations;
  reporter: Reporter;
  /** Detection broke an invariant or threw: called once; frames are still captured afterwards. */
  onFatal: (reason: ReasonCode, detail: string) => void;
  /** Each promoted event, after it is reported (the collector stores it, then shows it, and alerts). */
  onPromoted?: (e: PromotedEvent) => void;
}

/**
 * Characters of frames held before detection starts, at most. Only REST bodies arrive then (the
 * symbol selection's exchangeInfo and 24 h tickers, each ≤ LIMITS.MAX_REST_BODY_BYTES), but the
 * selection retries for as long as the exchange fails, and every answer would be held: two whole
 * bodies fit, older ones go first (the last answers are the ones the selection used).
 */
export const INTAKE_MAX_EARLY_CHARS = 32 * 1024 * 1024;

export class FrameIntake {
  private pipeline: FramePipeline | null = null;
  private capture: CaptureWriter | null = null;
  private pending: Frame[] = [];
  private pendingChars = 0;
  /** Frames held before detection started that the bound pushed out (oldest first): a gap at the capture's start. */
  private early: CaptureGap | null = null;
  private failure: { reason: ReasonCode; detail: string } | null = null;

  constructor(private readonly opts: IntakeOptions) {}

  /** Set once detection broke; detection stays stopped for the rest of the run. */
  get fatal(): { reason: ReasonCode; detail: string } | null {
    return this.failure;
  }

  /** Detection starts: the frames held so far go through, in arrival order. */
  attach(pipeline: FramePipeline, capture: CaptureWriter | null): void {
    this.pipeline = pipeline;
    this.capture = capture;
    const early = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    if (this.early !== null) capture?.writeGap(this.early);
    for (const f of early) this.ingest(f);
  }

  /** Frames received before detection started and dropped by INTAKE_MAX_EARLY_CHARS. */
  get earlyDropped(): number {
    return this.early?.frames ?? 0;
  }

  /** A received frame. */
  frame(text: string, recv: number, source: string): void {
    const frame: Frame = { recv_ms: recv, source, text };
    if (this.pipeline === null) {
      this.pending.push(frame);
      this.pendingChars += text.length;
      while (this.pendingChars > INTAKE_MAX_EARLY_CHARS && this.pending.length > 1) {
        const gone = this.pending.shift() as Frame;
        this.pendingChars -= gone.text.length;
        if (this.early === null) this.early = { frames: 0, first_recv_ms: gone.recv_ms, last_recv_ms: gone.recv_ms, reason: 'early_backlog' };
        this.early.frames++;
        this.early.last_recv_ms = gone.recv_ms;
      }
      return;
    }
    this.ingest(frame);
  }

  private ingest(frame: Frame): void {
    const pipeline = this.pipeline;
    if (pipeline === null) return;
    this.capture?.write(frame);
    if (this.failure !== null) return;
    try {
      // The pipeline counts the outcome and dead-letters a malformed frame.
      const r = pipeline.ingest(frame);
      // Rates count what the observer watches: events of the 10 symbols, not the whole market feed.
      if (r.kind === 'event' && pipeline.engine.detector(r.event.symbol) !== undefined) {
        if (r.event.type === 'TRADE') this.opts.operations.trade(frame.recv_ms);
        else if (r.event.type === 'LIQUIDATION') this.opts.operations.liquidation(frame.recv_ms);
      }
      for (const e of pipeline.engine.takeNewPromotions()) {
        this.opts.reporter.report({ kind: 'promoted', event: e });
        this.opts.onPromoted?.(e);
      }
    } catch (e) {
      const reason: ReasonCode = e instanceof InvariantError ? e.reason : 'DETECTOR_EXCEPTION';
      const detail = `${safeMessage((e as Error).message)}. Detection stopped to protect correctness; the capture up to here replays the fault. Restart the app; report the capture and debug/latest_snapshot.json.`;
      this.failure = { reason, detail };
      this.opts.onFatal(reason, detail);
    }
  }

  /** A frame the socket itself refused (binary, oversized): captured, counted and dead-lettered like the rest. */
  refused(reason: string, recv: number, source: string, raw: string): void {
    this.capture?.writeRefused({ recv_ms: recv, source, text: raw }, reason);
    this.pipeline?.reject({ recv_ms: recv, source, reason, raw });
  }
}
