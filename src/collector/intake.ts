/**
 * Frame intake: every received frame (WS text or REST body) and every frame the socket refused
 * is recorded in the capture first — before detection, and also after a fatal error has stopped
 * detection — so the capture always holds every frame received. Then the frame goes through the
 * engine (the same call replay makes), its outcome is counted, malformed ones are dead-lettered
 * and promotions are reported. Bodies that arrive before the symbols are known (symbol selection)
 * wait and go through in arrival order once detection starts.
 */
import type { DeadLetterFile } from '../capture/dead-letter';
import type { CaptureWriter } from '../capture/writer';
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { Engine } from '../core/engine';
import type { Frame } from '../core/normalize';
import { InvariantError } from '../core/symbol-detector';
import type { Operations } from './operations';
import type { Reporter } from './report';

export interface IntakeOptions {
  deadLetters: DeadLetterFile;
  operations: Operations;
  reporter: Reporter;
  /** Detection broke an invariant or threw: called once; frames are still captured afterwards. */
  onFatal: (reason: ReasonCode, detail: string) => void;
}

export class FrameIntake {
  private engine: Engine | null = null;
  private capture: CaptureWriter | null = null;
  private pending: Frame[] = [];
  private failure: { reason: ReasonCode; detail: string } | null = null;

  constructor(private readonly opts: IntakeOptions) {}

  /** Set once detection broke; detection stays stopped for the rest of the run. */
  get fatal(): { reason: ReasonCode; detail: string } | null {
    return this.failure;
  }

  /** Detection starts: the frames held so far go through, in arrival order. */
  attach(engine: Engine, capture: CaptureWriter | null): void {
    this.engine = engine;
    this.capture = capture;
    const early = this.pending;
    this.pending = [];
    for (const f of early) this.ingest(f);
  }

  /** A received frame. */
  frame(text: string, recv: number, source: string): void {
    const frame: Frame = { recv_ms: recv, source, text };
    if (this.engine === null) {
      this.pending.push(frame);
      return;
    }
    this.ingest(frame);
  }

  private ingest(frame: Frame): void {
    if (this.engine === null) return;
    this.capture?.write(frame);
    if (this.failure !== null) return;
    try {
      const r = this.engine.ingestFrame(frame);
      // Rates count what the observer watches: events of the 10 symbols, not the whole market feed.
      if (r.kind === 'event' && this.engine.detector(r.event.symbol) !== undefined) {
        if (r.event.type === 'TRADE') this.opts.operations.trade(frame.recv_ms);
        else if (r.event.type === 'LIQUIDATION') this.opts.operations.liquidation(frame.recv_ms);
      } else if (r.kind === 'malformed') {
        this.opts.deadLetters.write({ recv_ms: frame.recv_ms, source: frame.source, reason: r.reason, raw: frame.text });
      }
      for (const e of this.engine.takeNewPromotions()) this.opts.reporter.report({ kind: 'promoted', event: e });
    } catch (e) {
      const reason: ReasonCode = e instanceof InvariantError ? e.reason : 'DETECTOR_EXCEPTION';
      const detail = `${(e as Error).message}. Detection stopped to protect correctness; the capture up to here replays the fault. Restart the app; report the capture and debug/latest_snapshot.json.`;
      this.failure = { reason, detail };
      this.opts.onFatal(reason, detail);
    }
  }

  /** A frame the socket itself refused (binary, oversized): captured, counted and dead-lettered like the rest. */
  refused(reason: string, recv: number, source: string, raw: string): void {
    this.capture?.writeRefused({ recv_ms: recv, source, text: raw }, reason);
    this.engine?.noteMalformed(reason);
    this.opts.deadLetters.write({ recv_ms: recv, source, reason, raw });
  }
}
