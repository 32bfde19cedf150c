/**
 * Terminal- and log-safe text (issue 9 item 5): what reaches a console line or a log cannot forge a
 * line, move the cursor, reorder text with bidi overrides, or leak credentials in a URL.
 */
import { describe, expect, it } from 'vitest';
import { consoleLine } from '../src/collector/log';
import { isSafeText, redactUrl, redactUrlsIn, SAFE_TEXT_MAX_CHARS, safeJson, safeMessage, safeText } from '../src/text/safe';
import { Rng } from '../src/simulator/rng';

/** Independent of the module's regex: the code units a terminal or log viewer may act on. */
function isDangerousUnit(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff
  );
}

/** Where `s` holds a dangerous unit or a lone surrogate, or null when it holds none. */
function firstUnprintable(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDangerousUnit(c)) return `unit 0x${c.toString(16)} at ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return `lone high surrogate at ${i}`;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return `lone low surrogate at ${i}`;
  }
  return null;
}

function expectPrintable(s: string): void {
  expect(firstUnprintable(s), JSON.stringify(s)).toBeNull();
}

describe('safeText', () => {
  it('escapes every C0 control, DEL and every C1 control, readably', () => {
    for (let c = 0; c < 0x20; c++) {
      const out = safeText(`a${String.fromCharCode(c)}b`);
      expectPrintable(out);
      expect(out).toBe(c === 10 ? 'a\\nb' : c === 13 ? 'a\\rb' : c === 9 ? 'a\\tb' : `a\\x${c.toString(16).padStart(2, '0')}b`);
    }
    expect(safeText('\u007f')).toBe('\\x7f');
    for (let c = 0x80; c <= 0x9f; c++) expect(safeText(String.fromCharCode(c))).toBe(`\\x${c.toString(16)}`);
  });

  it('escapes bidi controls, line/paragraph separators, the BOM and lone surrogates; keeps real pairs', () => {
    const bidi = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    for (const c of bidi) expect(safeText(`x${String.fromCharCode(c)}y`)).toBe(`x\\u${c.toString(16).padStart(4, '0')}y`);
    expect(safeText('a\u2028b\u2029c\ufeff')).toBe('a\\u2028b\\u2029c\\ufeff');
    expect(safeText('lone \ud83d here')).toBe('lone \\ud83d here');
    expect(safeText('lone \ude00 here')).toBe('lone \\ude00 here');
    expect(safeText('pair 😀 kept')).toBe('pair 😀 kept');
  });

  it('leaves ordinary text alone, Unicode included', () => {
    for (const s of ['BTCUSDT 61,800.30 — ok', 'ü é 日本語 ₮', 'C:\\Users\\me\\debug', '{"code":-1121,"msg":"Invalid symbol."}', '']) {
      expect(safeText(s)).toBe(s);
      expect(isSafeText(s)).toBe(true);
    }
    expect(isSafeText('a\x1bb')).toBe(false);
    // The global regex must not keep state between calls.
    expect(isSafeText('a\x1bb')).toBe(false);
  });

  it('turns the forged console line of the issue (REST body with ESC, BEL, CR LF) into one inert line', () => {
    const body = '{"msg":"oops"}\x07\r\n[00:00:00] stage OBSERVE\x1b[2K\x1b[1A';
    const out = safeText(body);
    expect(out).toBe('{"msg":"oops"}\\x07\\r\\n[00:00:00] stage OBSERVE\\x1b[2K\\x1b[1A');
    expect(out.split('\n')).toHaveLength(1);
    expectPrintable(out);
  });

  it('bounds the length and says how much was cut', () => {
    const long = 'y'.repeat(SAFE_TEXT_MAX_CHARS + 500);
    expect(safeText(long)).toBe(`${'y'.repeat(SAFE_TEXT_MAX_CHARS)}…(+500 chars)`);
    expect(safeText('abcdef', 3)).toBe('abc…(+3 chars)');
    expect(safeText('abc', 3)).toBe('abc');
  });

  it('random code units (seeded): the output is always printable, and printable input is unchanged', () => {
    const rng = new Rng(9);
    for (let n = 0; n < 3000; n++) {
      let s = '';
      const len = rng.int(40);
      const between = (lo: number, hi: number): number => lo + rng.int(hi - lo);
      for (let i = 0; i < len; i++) {
        // Mostly the interesting ranges: controls, C1, bidi, surrogates; some plain text.
        const pick = rng.int(5);
        const c =
          pick === 0
            ? between(0, 0x20)
            : pick === 1
              ? between(0x7f, 0xa0)
              : pick === 2
                ? between(0x2000, 0x2070)
                : pick === 3
                  ? between(0xd800, 0xe000)
                  : between(0x20, 0x7f);
        s += String.fromCharCode(c);
      }
      const out = safeText(s);
      if (firstUnprintable(out) !== null) expectPrintable(out);
      const clean = firstUnprintable(s) === null;
      if (clean && out !== s) expect(out).toBe(s);
      if (isSafeText(s) !== clean) expect(isSafeText(s), JSON.stringify(s)).toBe(clean);
    }
  });
});

describe('safeJson', () => {
  it('is JSON that parses back to the same value, with no character a terminal acts on', () => {
    const value = { raw: 'a\x1b[2J\r\n\u0085\u009b\u202egnp.exe\u2028\u2066\ufeff\ud800', n: 1, nested: ['\u202d'] };
    const text = safeJson(value);
    expectPrintable(text);
    expect(JSON.parse(text)).toEqual(value);
    expect(safeJson('\u202e')).toBe('"\\u202e"');
    expect(safeJson({ a: 'plain ü' })).toBe(JSON.stringify({ a: 'plain ü' }));
  });
});

describe('URL redaction', () => {
  const cases: [string, string][] = [
    ['ws://user:pass@127.0.0.1:9000/market', 'ws://***@127.0.0.1:9000/market'],
    ['wss://user@fstream.binance.com', 'wss://***@fstream.binance.com'],
    ['https://a:b@c@host/x', 'https://***@host/x'],
    ['https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT', 'https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT'],
    ['https://h/api?symbol=X&signature=abc123&timestamp=1', 'https://h/api?symbol=X&signature=***&timestamp=1'],
    ['https://h/api?apiKey=K&secret=S&token=T&password=P', 'https://h/api?apiKey=***&secret=***&token=***&password=***'],
    ['wss://h/ws?listenKey=pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1#frag', 'wss://h/ws?listenKey=***#frag'],
    ['https://h/api?x-api-key=1&flag&auth=2', 'https://h/api?x-api-key=***&flag&auth=***'],
    ['https://h/api?%73ignature=1', 'https://h/api?%73ignature=***'],
    ['https://h/path@with-at', 'https://h/path@with-at'],
    ['not a url', 'not a url'],
    ['wss://fstream.binance.com/market', 'wss://fstream.binance.com/market'],
  ];
  it.each(cases)('%s → %s', (input, want) => {
    expect(redactUrl(input)).toBe(want);
  });

  it('finds URLs inside free text (error messages, console lines)', () => {
    expect(redactUrlsIn('REST http://u:p@127.0.0.1:1/  WS ws://u:p@127.0.0.1:2/market')).toBe('REST http://***@127.0.0.1:1/  WS ws://***@127.0.0.1:2/market');
    expect(redactUrlsIn('connect ECONNREFUSED (ws://k:s@h:1/x?signature=zz): gone')).toBe('connect ECONNREFUSED (ws://***@h:1/x?signature=***): gone');
    expect(redactUrlsIn('no url here')).toBe('no url here');
  });

  it('safeMessage redacts then escapes', () => {
    expect(safeMessage('bad ws://u:p@h/\x1b[31m\nnext')).toBe('bad ws://***@h/\\x1b[31m\\nnext');
  });
});

describe('consoleLine', () => {
  it('keeps its format and makes the message one safe line with redacted URLs', () => {
    const at = new Date(2024, 7, 8, 9, 5, 7).getTime();
    expect(consoleLine(at, 'stage OBSERVE — all baselines warm')).toBe('[09:05:07] stage OBSERVE — all baselines warm');
    const line = consoleLine(at, 'REST http://user:pass@127.0.0.1:1 said: {"msg":"x"}\r\n[00:00:00] stage OBSERVE\x1b]0;pwned\x07');
    expect(line).toBe('[09:05:07] REST http://***@127.0.0.1:1 said: {"msg":"x"}\\r\\n[00:00:00] stage OBSERVE\\x1b]0;pwned\\x07');
    expect(line).not.toContain('pass');
    expectPrintable(line);
  });
});
