/**
 * Frames for warm-start tests, made from real trades: the MARKET `@trade` prints of the hftbacktest
 * captures (vendored extract, or the full files in ../shared), each turned into the aggTrade the
 * exchange would list for it — one aggTrade per print, with consecutive aggregate ids per symbol
 * (prices, sizes, sides, trade times and receive times are the recorded ones).
 *
 * `allLiveFrames` is the run without a warm start: every trade as a live stream frame, in the
 * recorded arrival order. `warmStartFrames` is the same market with the stream started later: the
 * trades before the stream come as REST aggTrades pages (a chain per symbol, as the planner asks
 * for them), bracketed by the warm-start markers, and the pages reach a bit past the stream's
 * start, so the first live aggTrades overlap them.
 */
import { epochDigitsToMs } from '../src/capture/format';
import { AGG_TRADES_MAX_LIMIT, aggTradesPath } from '../src/binance/agg-trades-page';
import type { WarmStartFailed } from '../src/core/contracts/warm-start';
import type { Frame } from '../src/core/source';
import { warmStartFrame } from '../src/core/warm-start';
import { readLines } from './fixtures/paths';

export interface RecordedTrade {
  symbol: string;
  /** Recorder receive time, ms. */
  recv: number;
  E: number;
  T: number;
  /** Raw trade id. */
  t: number;
  p: string;
  q: string;
  m: boolean;
  /** The aggregate id given to it (consecutive per symbol in exchange order). */
  a: number;
}

/** Aggregate ids start here, far from the raw trade ids, so a mix-up of the two id spaces shows. */
const AGG_ID_BASE: Record<string, number> = { BTCUSDT: 2_000_000_000, ETHUSDT: 1_500_000_000 };

/** MARKET prints of the given capture files, merged by receive time (ties: file order), with aggregate ids. */
export function recordedTrades(files: readonly string[]): RecordedTrade[] {
  const out: (RecordedTrade & { order: number })[] = [];
  let order = 0;
  for (const file of files) {
    for (const line of readLines(file)) {
      if (!line.includes('@trade"')) continue;
      const sp = line.indexOf(' ');
      const recv = epochDigitsToMs(line.slice(0, sp));
      const d = (JSON.parse(line.slice(sp + 1)) as { data: { s: string; E: number; T: number; t: number; p: string; q: string; X: string; m: boolean } }).data;
      if (d.X !== 'MARKET' || recv === null) continue;
      out.push({ symbol: d.s, recv, E: d.E, T: d.T, t: d.t, p: d.p, q: d.q, m: d.m, a: 0, order: order++ });
    }
  }
  const bySymbol = new Map<string, RecordedTrade[]>();
  for (const tr of out) bySymbol.set(tr.symbol, [...(bySymbol.get(tr.symbol) ?? []), tr]);
  for (const [symbol, list] of bySymbol) {
    // The shared captures repeat a few prints; the exchange lists each trade once.
    const unique = [...new Map(list.map((tr) => [tr.t, tr])).values()].sort((x, y) => x.t - y.t);
    unique.forEach((tr, i) => (tr.a = (AGG_ID_BASE[symbol] ?? 1_000_000_000) + i));
  }
  const seen = new Set<string>();
  return out
    .filter((tr) => {
      const key = `${tr.symbol}:${tr.t}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((x, y) => x.recv - y.recv || x.order - y.order)
    .map(({ order: _o, ...tr }) => tr);
}

export function streamFrame(tr: RecordedTrade): Frame {
  const data = `{"e":"aggTrade","E":${tr.E},"a":${tr.a},"s":"${tr.symbol}","p":"${tr.p}","q":"${tr.q}","f":${tr.t},"l":${tr.t},"T":${tr.T},"m":${tr.m}}`;
  return { recv_ms: tr.recv, source: 'ws:/market/stream', text: `{"stream":"${tr.symbol.toLowerCase()}@aggTrade","data":${data}}` };
}

export function restRow(tr: RecordedTrade): string {
  return `{"a":${tr.a},"p":"${tr.p}","q":"${tr.q}","f":${tr.t},"l":${tr.t},"T":${tr.T},"m":${tr.m}}`;
}

export function allLiveFrames(trades: readonly RecordedTrade[]): Frame[] {
  return trades.map(streamFrame);
}

/** One symbol's chain of pages over `trades` (exchange order), as the planner would ask: by time, then by id; always ending with a short page. */
export function pageBodies(symbol: string, trades: readonly RecordedTrade[], startMs: number, limit = AGG_TRADES_MAX_LIMIT): { path: string; text: string }[] {
  const pages: { path: string; text: string }[] = [];
  for (let i = 0; ; i += limit) {
    const chunk = trades.slice(i, i + limit);
    const from = i === 0 ? ({ kind: 'time', ms: startMs } as const) : ({ kind: 'id', id: (trades[i - 1] as RecordedTrade).a + 1 } as const);
    const path = aggTradesPath({ symbol, from, ...(i === 0 ? { endMs: startMs + 59 * 60_000 } : {}), limit });
    pages.push({ path, text: `[${chunk.map(restRow).join(',')}]` });
    if (chunk.length < limit) return pages;
  }
}

export interface WarmRun {
  frames: Frame[];
  /** Receive time at which the live stream starts (its first frame). */
  liveFromRecv: number;
  /** Per symbol: the last backfilled aggregate id and how many live aggTrades repeat the backfill. */
  lastBackfilledId: Map<string, number>;
  overlap: Map<string, number>;
  /** Exchange time of the first live frame's trade. */
  firstLiveT: number;
}

/**
 * The warm-started run: the stream starts at `liveFromRecv`; each symbol's pages hold every trade up
 * to `overlapMs` of exchange time past the first live trade; pages arrive `pageGapMs` apart (round
 * robin over the symbols) once the stream has delivered that far, then the end marker.
 */
export function warmStartFrames(
  trades: readonly RecordedTrade[],
  opts: {
    liveFromRecv: number;
    overlapMs: number;
    spanMs: number;
    pageGapMs?: number;
    limit?: number;
    failed?: WarmStartFailed;
    dropPage?: (symbol: string, i: number) => boolean;
  },
): WarmRun {
  const live = trades.filter((tr) => tr.recv >= opts.liveFromRecv);
  const first = live[0];
  if (first === undefined) throw new Error('no live trade after liveFromRecv');
  const until = first.T + opts.overlapMs;
  const symbols = [...new Set(trades.map((tr) => tr.symbol))];
  const startMs = Math.min(...trades.map((tr) => tr.T));
  const chains = symbols.map((symbol) => {
    const mine = trades.filter((tr) => tr.symbol === symbol && tr.T <= until).sort((x, y) => x.a - y.a);
    return { symbol, mine, pages: pageBodies(symbol, mine, startMs, opts.limit) };
  });
  const gap = opts.pageGapMs ?? 150;
  const rest: Frame[] = [];
  // A page holds the trades up to when it was served; the stream has delivered those by the time
  // the page arrives (REST answers after the stream's few ms). So pages arrive once the stream is past `until`.
  let recv = Math.max(opts.liveFromRecv, ...live.filter((tr) => tr.T <= until).map((tr) => tr.recv));
  for (let round = 0; chains.some((c) => round < c.pages.length); round++) {
    for (const c of chains) {
      const p = c.pages[round];
      if (p === undefined || opts.dropPage?.(c.symbol, round)) continue;
      recv += gap;
      rest.push({ recv_ms: recv, source: `rest:${p.path}`, text: p.text });
    }
  }
  const endRecv = recv + gap;
  const lastBackfilledId = new Map<string, number>();
  const overlap = new Map<string, number>();
  for (const c of chains) {
    const last = c.mine[c.mine.length - 1];
    if (last === undefined) continue;
    lastBackfilledId.set(c.symbol, last.a);
    overlap.set(c.symbol, live.filter((tr) => tr.symbol === c.symbol && tr.a <= last.a).length);
  }
  const merged = [...live.map(streamFrame), ...rest].sort((x, y) => x.recv_ms - y.recv_ms);
  const cut = merged.findIndex((f) => f.recv_ms > endRecv);
  const frames = [
    warmStartFrame(opts.liveFromRecv - 1, { warm_start: 'begin', span_ms: opts.spanMs }),
    ...(cut < 0 ? merged : merged.slice(0, cut)),
    warmStartFrame(endRecv, { warm_start: 'end', failed: opts.failed ?? {} }),
    ...(cut < 0 ? [] : merged.slice(cut)),
  ];
  return { frames, liveFromRecv: opts.liveFromRecv, lastBackfilledId, overlap, firstLiveT: first.T };
}
