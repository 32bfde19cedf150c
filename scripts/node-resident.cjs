#!/usr/bin/env node
// Which parts of the node binary a process keeps resident, by ELF region: the binary is the largest
// single item of the window app's RSS (README "UI", issue 11 item 6), and its sections say whether
// that is V8's code, read-only data (ICU's data among it), or the dynamic symbol tables addons look up.
//
//   node scripts/node-resident.cjs <pid>        (Linux; reading /proc/<pid>/pagemap needs root)
//
// Sections come from the ELF section headers of the binary the process maps; ICU's data is located by
// its dynamic symbol (icudt<N>_dat) where the binary exports one. Prints MB per region and the total.
'use strict';
const { closeSync, openSync, readFileSync, readSync } = require('node:fs');

const PAGE = 4096;

/** Section headers of a 64-bit little-endian ELF file: name, file offset, size, and the symbol tables. */
function sections(path) {
  const buf = readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      nameAt: buf.readUInt32LE(at),
      type: buf.readUInt32LE(at + 4),
      addr: Number(buf.readBigUInt64LE(at + 0x10)),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
    });
  }
  const names = raw[shstrndx];
  const nameOf = (s) => {
    const from = names.offset + s.nameAt;
    return buf.toString('latin1', from, buf.indexOf(0, from));
  };
  const out = raw.map((s) => ({ ...s, name: nameOf(s) }));
  return { buf, sections: out };
}

/** File range of the exported ICU data symbol, or null. */
function icuData(buf, secs) {
  const dynsym = secs.find((s) => s.name === '.dynsym');
  if (!dynsym) return null;
  const strtab = secs[dynsym.link];
  const rodata = secs.find((s) => s.name === '.rodata');
  for (let at = dynsym.offset; at < dynsym.offset + dynsym.size; at += 24) {
    const nameAt = strtab.offset + buf.readUInt32LE(at);
    const name = buf.toString('latin1', nameAt, buf.indexOf(0, nameAt));
    if (!/^icudt\d+_dat$/.test(name)) continue;
    const value = Number(buf.readBigUInt64LE(at + 8));
    const size = Number(buf.readBigUInt64LE(at + 16));
    // Virtual address to file offset through the section that holds it.
    const home = secs.find((s) => s.addr <= value && value < s.addr + s.size) ?? rodata;
    const offset = home.offset + (value - home.addr);
    return { name, from: offset, to: offset + size };
  }
  return null;
}

function regions(path) {
  const { buf, sections: secs } = sections(path);
  const byName = (n) => secs.find((s) => s.name === n);
  const text = byName('.text');
  const rodata = byName('.rodata');
  const ehHdr = byName('.eh_frame_hdr');
  const out = [{ name: 'headers, dynamic symbols, relocations (before .text)', from: 0, to: text.offset }];
  out.push({ name: 'code (.text: V8, Node, OpenSSL, ...)', from: text.offset, to: text.offset + text.size });
  const icu = icuData(buf, secs);
  if (icu && icu.from >= rodata.offset && icu.to <= rodata.offset + rodata.size) {
    out.push({ name: 'read-only data before ICU (snapshot, built-in JS)', from: rodata.offset, to: icu.from });
    out.push({ name: `ICU data (${icu.name})`, from: icu.from, to: icu.to });
    out.push({ name: 'read-only data after ICU', from: icu.to, to: rodata.offset + rodata.size });
  } else out.push({ name: 'read-only data (.rodata)', from: rodata.offset, to: rodata.offset + rodata.size });
  const unwind = secs.filter((s) => ['.eh_frame_hdr', '.eh_frame', '.gcc_except_table'].includes(s.name));
  const unwindFrom = ehHdr ? ehHdr.offset : rodata.offset + rodata.size;
  const unwindTo = Math.max(unwindFrom, ...unwind.map((s) => s.offset + s.size));
  out.push({ name: 'unwind tables (.eh_frame*)', from: unwindFrom, to: unwindTo });
  out.push({ name: 'writable data (.data, .got, ...)', from: unwindTo, to: Number.MAX_SAFE_INTEGER });
  return out;
}

function main() {
  const pid = process.argv[2];
  if (!pid) throw new Error('usage: node scripts/node-resident.cjs <pid>');
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((p) => p.length >= 6 && /\/node$/.test(p[5]));
  if (maps.length === 0) throw new Error(`process ${pid} maps no file named node`);
  const binary = maps[0][5];
  const regs = regions(binary).map((r) => ({ ...r, pages: 0 }));
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const [range, , off] of maps) {
      const [lo, hi] = range.split('-').map((x) => parseInt(x, 16));
      const n = (hi - lo) / PAGE;
      const entries = Buffer.alloc(n * 8);
      readSync(fd, entries, 0, entries.length, (lo / PAGE) * 8);
      const base = parseInt(off, 16);
      for (let i = 0; i < n; i++) {
        // Bit 63: the page is present in this process's page table.
        if ((entries.readUInt32LE(i * 8 + 4) & 0x80000000) === 0) continue;
        const at = base + i * PAGE;
        const r = regs.find((x) => x.from <= at && at < x.to);
        if (r) r.pages++;
      }
    }
  } finally {
    closeSync(fd);
  }
  const mb = (pages) => ((pages * PAGE) / 1048576).toFixed(1).padStart(6);
  process.stdout.write(`${binary} resident in process ${pid}, by region:\n`);
  for (const r of regs) process.stdout.write(`${mb(r.pages)} MB  ${r.name}\n`);
  process.stdout.write(`${mb(regs.reduce((a, r) => a + r.pages, 0))} MB  total\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`node-resident: ${e.message}\n`);
  process.exit(1);
}
