// Bundles written in ASCII. V8 keeps a script's source in the heap for as long as its functions
// may still be compiled (for our bundles: the whole run), one byte a character only when every
// character is Latin-1: a single "—" or "≥" in a comment or a message makes the whole bundle two
// bytes a character. dist/worker.js (1.36 MB) took 2.72 MB of the collector worker's heap that way
// and dist/main.js 1.7 MB of the window's (heap snapshots, README "UI"). Every UTF-16 unit above
// 0x7F becomes its \uXXXX escape: the same character in a string, a template, a regular expression
// or an identifier, plain text in a comment. Replaced through webpack's ReplaceSource before the
// source maps are made, so they still point at the right columns.
'use strict';

/**
 * The escapes that make `text` ASCII: [start, end (exclusive), replacement] per run of non-ASCII
 * units. Throws where an escape would change the meaning: after a backslash ("\—" in a string is
 * "—", but "\\u2014" would be a backslash and "u2014").
 */
function nonAsciiEscapes(text, where = 'the bundle') {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) <= 0x7f) continue;
    const start = i;
    let rep = '';
    while (i < text.length && text.charCodeAt(i) > 0x7f) {
      rep += `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`;
      i++;
    }
    if (start > 0 && text[start - 1] === '\\') {
      const line = text.slice(0, start).split('\n').length;
      throw new Error(
        `ascii-only: ${where} line ${line} escapes a non-ASCII character with a backslash; write the character without it (or as \\uXXXX) in the source`,
      );
    }
    out.push([start, i, rep]);
    i--;
  }
  return out;
}

class AsciiOnlyPlugin {
  apply(compiler) {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap('AsciiOnlyPlugin', (compilation) => {
      // Before PROCESS_ASSETS_STAGE_DEV_TOOLING, where the source maps are written.
      compilation.hooks.processAssets.tap({ name: 'AsciiOnlyPlugin', stage: Compilation.PROCESS_ASSETS_STAGE_OPTIMIZE_SIZE }, (assets) => {
        for (const name of Object.keys(assets)) {
          if (!name.endsWith('.js')) continue;
          const original = compilation.getAsset(name).source;
          const escapes = nonAsciiEscapes(original.source().toString(), name);
          if (escapes.length === 0) continue;
          const replaced = new sources.ReplaceSource(original);
          for (const [start, end, rep] of escapes) replaced.replace(start, end - 1, rep);
          compilation.updateAsset(name, replaced);
        }
      });
    });
  }
}

module.exports = { AsciiOnlyPlugin, nonAsciiEscapes };
