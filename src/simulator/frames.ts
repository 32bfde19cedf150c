/**
 * Payload text, built by hand: these run tens of thousands of times a second at speed 60, and a
 * template is several times cheaper than JSON.stringify of an object. Key order follows the
 * exchange's. Every builder's output is checked against src/binance/schemas.ts by the tests.
 */
import type { FormattedLiquidation } from './liquidations';

export function aggTradeFrame(E: number, a: number, s: string, p: string, q: string, f: number, l: number, T: number, m: boolean): string {
  // `nq` (2026-01) excludes RPI fills; the recordings predate RPI, so it equals `q`.
  return `{"e":"aggTrade","E":${E},"a":${a},"s":"${s}","p":"${p}","q":"${q}","nq":"${q}","f":${f},"l":${l},"T":${T},"m":${m},"st":1}`;
}

export interface KlineBody {
  t: number;
  T: number;
  f: number;
  L: number;
  o: string;
  c: string;
  h: string;
  l: string;
  v: string;
  n: number;
  x: boolean;
  q: string;
  V: string;
  Q: string;
}

export function klineFrame(E: number, s: string, i: string, k: KlineBody): string {
  return (
    `{"e":"kline","E":${E},"s":"${s}","k":{"t":${k.t},"T":${k.T},"s":"${s}","i":"${i}","f":${k.f},"L":${k.L},` +
    `"o":"${k.o}","c":"${k.c}","h":"${k.h}","l":"${k.l}","v":"${k.v}","n":${k.n},"x":${k.x},"q":"${k.q}","V":"${k.V}","Q":"${k.Q}","B":"0"}}`
  );
}

export function markPriceFrame(E: number, s: string, p: string, ap: string, i: string, P: string, r: string, T: number): string {
  return `{"e":"markPriceUpdate","E":${E},"s":"${s}","p":"${p}","ap":"${ap}","P":"${P}","i":"${i}","r":"${r}","T":${T},"st":1}`;
}

export function forceOrderFrame(E: number, x: FormattedLiquidation): string {
  return (
    `{"e":"forceOrder","E":${E},"o":{"s":"${x.symbol}","S":"${x.side}","o":"LIMIT","f":"IOC","q":"${x.q}","p":"${x.p}","ap":"${x.ap}",` +
    `"X":"FILLED","l":"${x.l}","z":"${x.z}","T":${x.T}},"st":${x.st},"ps":"${x.ps}"}`
  );
}

export function bookTickerFrame(u: number, s: string, b: string, B: string, a: string, A: string, T: number, E: number): string {
  return `{"e":"bookTicker","u":${u},"s":"${s}","b":"${b}","B":"${B}","a":"${a}","A":"${A}","T":${T},"E":${E},"st":1}`;
}

/** The combined-stream envelope (`/stream?streams=…` and SET_PROPERTY combined=true). */
export function envelope(stream: string, payload: string): string {
  return `{"stream":"${stream}","data":${payload}}`;
}
