// Reads what a release check needs from a 64-bit little-endian ELF shared object (x86-64,
// AArch64): its type and machine, the symbols it exports, and the symbol versions it needs
// from each library (GLIBC_2.28, GLIBCXX_3.4.21...). Plain Node, so a prebuild for another
// arch is checked on any host without that arch's binutils.

import fs from 'node:fs';

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
const machineNames = { [EM_X86_64]: 'x86-64', [EM_AARCH64]: 'AArch64' };

const ET_DYN = 3;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHN_UNDEF = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;

/** The NUL-terminated string at `offset` of a string table section. */
function stringAt(buf, table, offset) {
  const start = table.offset + offset;
  const end = buf.indexOf(0, start);
  return buf.toString('latin1', start, end < 0 ? table.offset + table.size : end);
}

function sectionHeaders(buf, file) {
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  if (shoff === 0 || shnum === 0 || shoff + shentsize * shnum > buf.length) {
    throw new Error(`${file}: no section header table`);
  }
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
      info: buf.readUInt32LE(at + 0x2c),
      entsize: Number(buf.readBigUInt64LE(at + 0x38)),
    });
  }
  return sections;
}

/** Names of the defined global/weak symbols of .dynsym: what dlopen can find. */
function exportedSymbols(buf, sections) {
  const exported = [];
  for (const dynsym of sections.filter((section) => section.type === SHT_DYNSYM)) {
    const strtab = sections[dynsym.link];
    const entsize = dynsym.entsize || 24;
    for (let at = dynsym.offset; at + entsize <= dynsym.offset + dynsym.size; at += entsize) {
      const binding = buf.readUInt8(at + 4) >> 4;
      const shndx = buf.readUInt16LE(at + 6);
      if (shndx !== SHN_UNDEF && (binding === STB_GLOBAL || binding === STB_WEAK)) {
        exported.push(stringAt(buf, strtab, buf.readUInt32LE(at)));
      }
    }
  }
  return exported;
}

/** { 'libc.so.6': ['GLIBC_2.17', ...], ... } from .gnu.version_r. */
function neededVersions(buf, sections) {
  const needs = {};
  for (const verneed of sections.filter((section) => section.type === SHT_GNU_VERNEED)) {
    const strtab = sections[verneed.link];
    let at = verneed.offset;
    for (let entry = 0; entry < verneed.info; entry++) {
      const count = buf.readUInt16LE(at + 2);
      const library = stringAt(buf, strtab, buf.readUInt32LE(at + 4));
      const versions = (needs[library] ??= []);
      let aux = at + buf.readUInt32LE(at + 8);
      for (let i = 0; i < count; i++) {
        versions.push(stringAt(buf, strtab, buf.readUInt32LE(aux + 8)));
        aux += buf.readUInt32LE(aux + 12);
      }
      const next = buf.readUInt32LE(at + 12);
      if (next === 0) break;
      at += next;
    }
  }
  return needs;
}

/**
 * @returns {{ machine: number, machineName: string, shared: boolean,
 *   exports: string[], versions: Record<string, string[]> }}
 */
export function readElf(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`);
  const machine = buf.readUInt16LE(18);
  const sections = sectionHeaders(buf, file);
  return {
    machine,
    machineName: machineNames[machine] ?? `machine ${machine}`,
    shared: buf.readUInt16LE(16) === ET_DYN,
    exports: exportedSymbols(buf, sections),
    versions: neededVersions(buf, sections),
  };
}

/** The highest `PREFIX_x.y.z` among the versions an object needs, e.g. newest(v, 'GLIBC') → '2.32'. */
export function newestVersion(versions, prefix) {
  const numbers = Object.values(versions)
    .flat()
    .filter((name) => name.startsWith(`${prefix}_`) && /^[0-9.]+$/.test(name.slice(prefix.length + 1)))
    .map((name) => name.slice(prefix.length + 1));
  return numbers.sort(compareVersions).at(-1) ?? null;
}

/** Orders '2.9' before '2.28'. */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const diff = (x[i] ?? 0) - (y[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
