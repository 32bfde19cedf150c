/**
 * Text that came from outside (exchange bodies, socket close reasons, file names, user-given URLs)
 * made safe to print on a terminal or write to a log: it can neither move the cursor, forge a new
 * line, reorder what follows it (bidi overrides) nor leak credentials. Pure functions.
 *
 * Escapes stay readable (`\x1b`, `\n`, `\u202e`) rather than being dropped, so a support reader
 * still sees what arrived. Backslashes are not escaped: the output is for people, not a codec, and
 * Windows paths stay legible.
 */

/** Characters printed as an escape: C0, DEL, C1, bidi controls, line/paragraph separators, BOM. */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Default length bound: enough for any error message, short enough that one body cannot flood a console. */
export const SAFE_TEXT_MAX_CHARS = 2_000;

/**
 * One line of printable text: every control character, bidi control and lone surrogate escaped,
 * and at most `maxChars` characters of the input kept (the rest announced, not silently cut).
 */
export function safeText(s: string, maxChars = SAFE_TEXT_MAX_CHARS): string {
  const cut = s.length > maxChars ? s.slice(0, maxChars) : s;
  const esc = cut.replace(UNSAFE, escapeOne);
  return cut.length < s.length ? `${esc}…(+${s.length - cut.length} chars)` : esc;
}

/** True when `safeText` would change nothing but length (no character needs escaping). */
export function isSafeText(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const hit = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return !hit;
}

/** Query parameter names whose values are secrets (API keys, signatures, tokens, passwords). */
const SECRET_PARAM = /(key|secret|sig|signature|token|pass|passwd|password|pwd|auth|credential|session|listenkey)/i;

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#\s]*@)/i;

/**
 * A URL as it may be shown or stored: `user:pass@` becomes `***@`, and the value of any query
 * parameter whose name looks like a key, signature, token or password becomes `***`. The rest is
 * kept byte for byte (no normalisation), so the redacted URL still says where it points.
 */
export function redactUrl(url: string): string {
  let out = url.replace(USERINFO, '$1***@');
  const q = out.indexOf('?');
  if (q >= 0) {
    const hash = out.indexOf('#', q);
    const end = hash < 0 ? out.length : hash;
    const query = out
      .slice(q + 1, end)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 0) return pair;
        let name: string;
        try {
          name = decodeURIComponent(pair.slice(0, eq));
        } catch {
          name = pair.slice(0, eq);
        }
        return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=***` : pair;
      })
      .join('&');
    out = `${out.slice(0, q + 1)}${query}${out.slice(end)}`;
  }
  return out;
}

/**
 * URLs inside free text (error messages, console lines): scheme://… up to whitespace, a quote or a
 * bracket, less trailing sentence punctuation (`(see ws://h/x).` ends at `x`).
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`()[\]{}]*[^\s"'<>`()[\]{}.,;:!?]/gi;

/** Every URL inside `text` redacted as by `redactUrl`; the text around them is unchanged. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (u) => redactUrl(u));
}

/** What JSON.stringify leaves raw but a terminal or log viewer may act on: DEL, C1, bidi, separators, BOM. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * JSON text that is also safe to `cat` or `tail`: JSON.stringify already escapes C0 controls and
 * lone surrogates; the rest of the dangerous characters become `\uXXXX` escapes too. Lossless:
 * JSON.parse gives back exactly the value.
 */
export function safeJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What any externally sourced message needs before a console line or log: redacted, then escaped. */
export function safeMessage(text: string, maxChars = SAFE_TEXT_MAX_CHARS): string {
  return safeText(redactUrlsIn(text), maxChars);
}
