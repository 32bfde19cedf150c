/**
 * Capture line formats (ours, hftbacktest, cryptofeed), reading real captures, and merging files
 * by receive time. Literal lines in the cryptofeed shape are written here (values invented); the
 * real cryptofeed files are only read from ../shared at run time, never copied.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTURE_MAGIC, epochDigitsToMs, formatCaptureHeader, formatCaptureLine, formatRefusedLine, parseCaptureLine } from '../src/capture/format';
import { type CaptureItem, isGzipFile, mergeCaptures, readCapture } from '../src/capture/reader';
import { normalizeFrame } from '../src/binance/normalize';
import { runReplay } from '../src/replay/replay';
import { FIXTURE_BTC, FIXTURE_COUNTS, haveShared, readLines, SHARED_CRYPTOFEED } from './fixtures/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pp-capture-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function collect(it: AsyncIterable<CaptureItem>): Promise<CaptureItem[]> {
  const out: CaptureItem[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const TRADE_JSON =
  '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}';

describe('parseCaptureLine: our format', () => {
  it('reads `<recv_ms> <source> <raw>` with the raw text untouched (spaces included)', () => {
    const text = '{"id": 1, "result": null}';
    expect(parseCaptureLine(`1723161255088 ws:/market/stream ${text}`)).toEqual({
      kind: 'frame',
      frame: { recv_ms: 1723161255088, source: 'ws:/market/stream', text },
    });
    expect(parseCaptureLine(`1723161255088 rest:/fapi/v1/openInterest?symbol=BTCUSDT {"symbol":"BTCUSDT","openInterest":"1.5","time":1}`)).toEqual({
      kind: 'frame',
      frame: { recv_ms: 1723161255088, source: 'rest:/fapi/v1/openInterest?symbol=BTCUSDT', text: '{"symbol":"BTCUSDT","openInterest":"1.5","time":1}' },
    });
    // A source with no text (an empty frame) still is a frame.
    expect(parseCaptureLine('1723161255088 ws:/market/stream')).toEqual({
      kind: 'frame',
      frame: { recv_ms: 1723161255088, source: 'ws:/market/stream', text: '' },
    });
  });

  it('round-trips every frame through formatCaptureLine, using the ~json form for line breaks', () => {
    const frames = [
      { recv_ms: 1723161255088, source: 'ws:/public/stream', text: TRADE_JSON },
      { recv_ms: 1723161255089, source: 'ws:/market/stream', text: '{"stream":"btcusdt@trade",\n"data":\r\n{}}' },
      { recv_ms: 1723161255090, source: 'rest:/fapi/v1/ticker/24hr', text: 'line1\nline2 "quoted" \\ back\u2028slash\r' },
      { recv_ms: 1723161255091, source: 'ws:/market/stream', text: '"~json" lookalike ~json' },
      { recv_ms: 1723161255092, source: 'ws:/market/stream', text: '' },
    ];
    for (const f of frames) {
      const line = formatCaptureLine(f);
      expect(line).not.toMatch(/[\n\r]/);
      expect(parseCaptureLine(line)).toEqual({ kind: 'frame', frame: f });
    }
    expect(formatCaptureLine(frames[1] as (typeof frames)[number])).toBe(`1723161255089 ws:/market/stream~json ${JSON.stringify(frames[1]?.text)}`);
    expect(formatCaptureLine(frames[0] as (typeof frames)[number])).toBe(`1723161255088 ws:/public/stream ${TRADE_JSON}`);
  });

  it('rejects a broken ~json line, and a source with a space', () => {
    expect(parseCaptureLine('1723161255088 ws:/market/stream~json "unterminated')).toEqual({ kind: 'bad', reason: 'escaped_frame_not_json' });
    expect(parseCaptureLine('1723161255088 ws:/market/stream~json {"a":1}')).toEqual({ kind: 'bad', reason: 'escaped_frame_not_a_string' });
    expect(() => formatCaptureLine({ recv_ms: 1, source: 'ws:/a b', text: '' })).toThrow(/spaces/);
  });

  it('records a frame the socket refused with its reason, whatever it carried, and never as a frame to normalize', async () => {
    const binary = { recv_ms: 1723161255093, source: 'ws:/market/stream', text: '\u0000\u0001\uFFFD {"stream":"btcusdt@trade"}\n' };
    const line = formatRefusedLine(binary, 'binary_frame');
    expect(line).toBe(`1723161255093 ws:/market/stream~refused:binary_frame ${JSON.stringify(binary.text)}`);
    expect(parseCaptureLine(line)).toEqual({ kind: 'refused', frame: binary, reason: 'binary_frame' });
    const oversized = { recv_ms: 1723161255094, source: 'ws:/market/stream', text: '' };
    expect(parseCaptureLine(formatRefusedLine(oversized, 'oversized_frame'))).toEqual({ kind: 'refused', frame: oversized, reason: 'oversized_frame' });
    expect(parseCaptureLine('1723161255093 ws:/market/stream~refused:binary_frame not-json')).toEqual({
      kind: 'bad',
      reason: 'refused_frame_not_a_json_string',
    });
    expect(() => formatRefusedLine(binary, 'two words')).toThrow(/snake_case/);
    // Replay counts it as live did (malformed, dead-lettered) and does not feed it to the normalizer.
    const file = join(tmp, 'refused.txt');
    writeFileSync(file, `${formatCaptureLine({ recv_ms: 1723161255088, source: 'ws:/market/stream', text: TRADE_JSON })}\n${line}\n`);
    const items = await collect(readCapture(file));
    expect(items.map((i) => (i.kind === 'bad' ? i.reason : i.kind))).toEqual(['frame', 'refused:binary_frame']);
    const { pipeline } = await runReplay({ files: [file], symbols: ['BTCUSDT'] });
    expect(pipeline.counters.frames_received).toBe(1);
    expect(pipeline.counters.malformed_events).toBe(1);
    // Under the reason live counted it by, so live and replay agree class by class.
    expect(pipeline.counters.malformed_by_reason).toEqual({ binary_frame: 1 });
  });

  it('reads the header line, and skips comments and empty lines', () => {
    const h = { run_id: 'r1', symbols: ['BTCUSDT', 'ETHUSDT'], started_ms: 1723161255000, mode: 'LIVE' };
    const line = formatCaptureHeader(h);
    expect(line.startsWith(`${CAPTURE_MAGIC} `)).toBe(true);
    expect(parseCaptureLine(line)).toEqual({ kind: 'header', header: h });
    expect(parseCaptureLine(CAPTURE_MAGIC)).toEqual({ kind: 'header', header: {} });
    expect(parseCaptureLine(`${CAPTURE_MAGIC} {broken`)).toEqual({ kind: 'bad', reason: 'capture_header_not_json' });
    expect(parseCaptureLine('# a comment')).toEqual({ kind: 'skip', why: 'comment' });
    expect(parseCaptureLine('#')).toEqual({ kind: 'skip', why: 'comment' });
    expect(parseCaptureLine('')).toEqual({ kind: 'skip', why: 'empty' });
  });

  it('strips a trailing CR (CRLF files)', () => {
    expect(parseCaptureLine(`1723161255088 ws:/market/stream ${TRADE_JSON}\r`)).toEqual({
      kind: 'frame',
      frame: { recv_ms: 1723161255088, source: 'ws:/market/stream', text: TRADE_JSON },
    });
  });
});

describe('parseCaptureLine: hftbacktest `<ts> <json>`', () => {
  it('converts 19-digit nanoseconds to exact ms without precision loss', () => {
    const r = parseCaptureLine(`1723161255088176367 ${TRADE_JSON}`);
    expect(r).toEqual({ kind: 'frame', frame: { recv_ms: 1723161255088, source: '', text: TRADE_JSON } });
    // 1723161255999999999 is not representable as a double: Number(ns) / 1e6 would give …256000.
    expect(Math.floor(Number('1723161255999999999') / 1e6)).toBe(1723161256000);
    expect(epochDigitsToMs('1723161255999999999')).toBe(1723161255999);
    expect(epochDigitsToMs('1723161255000000000')).toBe(1723161255000);
    expect(epochDigitsToMs('9999999999999999999')).toBe(9999999999999);
  });

  it('converts 16-digit microseconds, 13-digit ms and 10-digit seconds', () => {
    const mp =
      '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1680652800010,"s":"BTCUSDT","p":"28155.10000000","P":"28141.47600845","i":"28165.04857143","r":"0.00002760","T":1680652800000}}';
    expect(parseCaptureLine(`1680652800091265 ${mp}`)).toEqual({ kind: 'frame', frame: { recv_ms: 1680652800091, source: '', text: mp } });
    expect(epochDigitsToMs('1680652800999999')).toBe(1680652800999);
    expect(epochDigitsToMs('1680652800091')).toBe(1680652800091);
    expect(epochDigitsToMs('1680652800')).toBe(1680652800000);
    expect(epochDigitsToMs('12345')).toBeNull();
    expect(parseCaptureLine(`12345 ${TRADE_JSON}`)).toEqual({ kind: 'bad', reason: 'timestamp_unit_unknown' });
  });

  it('reads the REST depth snapshot line of the fixture (no envelope) as a frame that normalizes to rest:depth', () => {
    const lines = readLines(FIXTURE_BTC);
    const snap = lines.find((l) => l.includes(' {"lastUpdateId"'));
    expect(snap).toBeDefined();
    const r = parseCaptureLine(snap as string);
    expect(r.kind).toBe('frame');
    if (r.kind === 'frame') expect(normalizeFrame(r.frame)).toEqual({ kind: 'ignored', what: 'rest:depth' });
  });
});

describe('parseCaptureLine: cryptofeed', () => {
  // Shaped like cryptofeed's recordings; values invented here.
  const AGG =
    '{"stream":"ctkusdt@aggTrade","data":{"e":"aggTrade","E":1626992750123,"a":16599310,"s":"CTKUSDT","p":"1.01200","q":"25","f":23961340,"l":23961342,"T":1626992750101,"m":true}}';

  it('reads `<seconds.frac>: <json>` to ms', () => {
    expect(parseCaptureLine(`1626992750.123456: ${AGG}`)).toEqual({ kind: 'frame', frame: { recv_ms: 1626992750123, source: '', text: AGG } });
    expect(parseCaptureLine(`1626992750.9996: ${AGG}`)).toEqual({ kind: 'frame', frame: { recv_ms: 1626992751000, source: '', text: AGG } });
  });

  it('reads REST `<url> -> <ts>: <body>` with a rest: source that keeps path and query', () => {
    const body = '{"lastUpdateId":600859605000,"E":1626992741200,"T":1626992741199,"bids":[["7.6110","6"]],"asks":[["7.6120","10"]]}';
    const r = parseCaptureLine(`https://fapi.binance.com/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000 -> 1626992741.301402: ${body}`);
    expect(r).toEqual({ kind: 'frame', frame: { recv_ms: 1626992741301, source: 'rest:/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000', text: body } });
    if (r.kind === 'frame') expect(normalizeFrame(r.frame)).toEqual({ kind: 'ignored', what: 'rest:depth' });
    const oi = parseCaptureLine(
      'https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT -> 1626992741.5: {"symbol":"BTCUSDT","openInterest":"1234.5","time":1626992741400}',
    );
    expect(oi.kind === 'frame' && oi.frame.source).toBe('rest:/fapi/v1/openInterest?symbol=BTCUSDT');
    if (oi.kind === 'frame')
      expect(normalizeFrame(oi.frame)).toMatchObject({
        kind: 'event',
        event: { type: 'OPEN_INTEREST', symbol: 'BTCUSDT', open_interest: 1234.5, recv_ms: 1626992741500 },
      });
  });

  it('skips the `<url> <-> <ts>` connection record', () => {
    expect(parseCaptureLine('wss://fstream.binance.com/stream?streams=ctkusdt@aggTrade/ctkusdt@bookTicker <-> 1626992740.179554')).toEqual({
      kind: 'skip',
      why: 'connection_record',
    });
    expect(parseCaptureLine('wss://fstream.binance.com/ws <-> 1626992740')).toEqual({ kind: 'skip', why: 'connection_record' });
  });

  it('calls everything else bad, with a reason', () => {
    expect(parseCaptureLine('garbage')).toEqual({ kind: 'bad', reason: 'no_timestamp' });
    expect(parseCaptureLine(' 1723161255088 ws:/x {}')).toEqual({ kind: 'bad', reason: 'no_timestamp' });
    expect(parseCaptureLine('hello world')).toEqual({ kind: 'bad', reason: 'unrecognised_line_format' });
    expect(parseCaptureLine('1626992750: {"a":1}')).toEqual({ kind: 'bad', reason: 'unrecognised_line_format' });
    expect(parseCaptureLine('-1723161255088 ws:/x {}')).toEqual({ kind: 'bad', reason: 'unrecognised_line_format' });
    expect(parseCaptureLine('https://fapi.binance.com/fapi/v1/depth -> nope: {}')).toEqual({ kind: 'bad', reason: 'unrecognised_line_format' });
    expect(parseCaptureLine('configuration: {"trades":["CTK-USDT-PERP"]}')).toEqual({ kind: 'bad', reason: 'unrecognised_line_format' });
  });
});

describe('readCapture', () => {
  it('reads the gzip fixture: every line is a frame', async () => {
    expect(isGzipFile(FIXTURE_BTC)).toBe(true);
    const items = await collect(readCapture(FIXTURE_BTC, 3));
    expect(items).toHaveLength(FIXTURE_COUNTS.lines.BTCUSDT);
    expect(items.every((i) => i.kind === 'frame' && i.file === 3)).toBe(true);
    const first = items[0];
    expect(first?.kind === 'frame' && first.line).toBe(1);
    expect(first?.kind === 'frame' && first.frame.recv_ms).toBe(1723161255030);
  });

  const cf = Object.values(SHARED_CRYPTOFEED);
  it.runIf(haveShared(cf, 'reading the real cryptofeed captures'))(
    'reads the real cryptofeed captures in ../shared: gzip detected, every line classified',
    async () => {
      const expected: Record<string, { frames: number; skips: number; bad: number; sources: RegExp }> = {
        [SHARED_CRYPTOFEED.ws]: { frames: 1535, skips: 1, bad: 0, sources: /^$/ },
        [SHARED_CRYPTOFEED.exchangeInfo]: { frames: 1, skips: 0, bad: 1, sources: /^rest:\/fapi\/v1\/exchangeInfo$/ },
        [SHARED_CRYPTOFEED.http]: { frames: 4, skips: 1, bad: 0, sources: /^rest:\/fapi\/v1\/depth\?symbol=[A-Z]+USDT&limit=1000$/ },
      };
      for (const [path, want] of Object.entries(expected)) {
        expect(isGzipFile(path)).toBe(true);
        const lines = readLines(path);
        const items = await collect(readCapture(path));
        const byLine = new Map(items.map((i) => [i.kind === 'header' ? -1 : i.line, i]));
        let frames = 0;
        let skips = 0;
        let bad = 0;
        lines.forEach((line, idx) => {
          const parsed = parseCaptureLine(line);
          const item = byLine.get(idx + 1);
          // Every line got exactly one classification, and readCapture reports all but the skips.
          if (parsed.kind === 'skip') {
            skips++;
            expect(item).toBeUndefined();
          } else {
            expect(item?.kind).toBe(parsed.kind);
            if (parsed.kind === 'frame') frames++;
            if (parsed.kind === 'bad') bad++;
          }
        });
        expect({ frames, skips, bad }, path).toEqual({ frames: want.frames, skips: want.skips, bad: want.bad });
        expect(items).toHaveLength(frames + bad);
        for (const i of items) {
          if (i.kind !== 'frame') continue;
          expect(i.frame.source).toMatch(want.sources);
          // Real exchange data: nothing is malformed.
          const r = normalizeFrame(i.frame);
          expect(r.kind === 'malformed' ? r.reason : 'ok', `${path}:${i.line}`).toBe('ok');
        }
      }
    },
  );
});

describe('mergeCaptures', () => {
  const BASE = 1_723_161_255_000;
  const line = (ms: number, tag: string): string => formatCaptureLine({ recv_ms: BASE + ms, source: 'ws:/market/stream', text: `{"tag":"${tag}"}` });

  it('orders frames by recv_ms across a gzip and a plain file (ties: lower file index first)', async () => {
    const a = join(tmp, 'a.capture.gz');
    const b = join(tmp, 'b.capture');
    writeFileSync(
      a,
      gzipSync(
        `${[formatCaptureHeader({ run_id: 'a', symbols: ['BTCUSDT'] }), line(1000, 'a1'), line(3000, 'a3'), '# comment', line(5000, 'a5'), line(5000, 'a5b'), 'junk line', line(9000, 'a9')].join('\n')}\n`,
      ),
    );
    writeFileSync(b, `${[line(2000, 'b2'), line(3000, 'b3'), line(4000, 'b4'), '', line(6000, 'b6')].join('\n')}\n`);
    expect(isGzipFile(a)).toBe(true);
    expect(isGzipFile(b)).toBe(false);

    const items = await collect(mergeCaptures([a, b]));
    const frames = items.flatMap((i) =>
      i.kind === 'frame' ? [`${i.frame.recv_ms - BASE}:${i.file}:${(JSON.parse(i.frame.text) as { tag: string }).tag}`] : [],
    );
    expect(frames).toEqual(['1000:0:a1', '2000:1:b2', '3000:0:a3', '3000:1:b3', '4000:1:b4', '5000:0:a5', '5000:0:a5b', '6000:1:b6', '9000:0:a9']);
    const headers = items.filter((i) => i.kind === 'header');
    expect(headers).toEqual([{ kind: 'header', header: { run_id: 'a', symbols: ['BTCUSDT'] }, file: 0 }]);
    const bad = items.filter((i) => i.kind === 'bad');
    expect(bad).toEqual([{ kind: 'bad', reason: 'unrecognised_line_format', raw: 'junk line', file: 0, line: 7 }]);
    // The header comes before any frame.
    expect(items[0]?.kind).toBe('header');
  });

  it('interleaves the two real fixture files monotonically in recv_ms', async () => {
    let last = -Infinity;
    let n = 0;
    const perFile = [0, 0];
    for await (const i of mergeCaptures([FIXTURE_BTC, join(FIXTURE_BTC, '..', 'ethusdt_20240808_first70s.gz')])) {
      expect(i.kind).toBe('frame');
      if (i.kind !== 'frame') continue;
      expect(i.frame.recv_ms).toBeGreaterThanOrEqual(last);
      last = i.frame.recv_ms;
      perFile[i.file] = (perFile[i.file] ?? 0) + 1;
      n++;
    }
    expect(perFile).toEqual([FIXTURE_COUNTS.lines.BTCUSDT, FIXTURE_COUNTS.lines.ETHUSDT]);
    expect(n).toBe(FIXTURE_COUNTS.lines.BTCUSDT + FIXTURE_COUNTS.lines.ETHUSDT);
  });
});
