// UTF-8 encoding into and decoding out of a shared Uint8Array, written by hand
// because TextEncoder.encodeInto and TextDecoder.decode reject views of a
// SharedArrayBuffer in browsers. Not exported from mod.ts.

const decoder = new TextDecoder("utf-8");
let scratch = new Uint8Array(256);

/**
 * The number of UTF-8 bytes `text` encodes to (lone surrogates count as
 * U+FFFD), or -1 - index if it contains U+0000 at `index`.
 */
export function _utf8Length(text: string): number {
  const nul = text.indexOf("\0");
  return nul >= 0 ? -1 - nul : _utf8Bytes(text);
}

/**
 * Writes `text` (already measured: `lengthBytes` bytes, no U+0000) at
 * `offset`, then zeroes the rest of the `maxBytes` field.
 */
export function _utf8Write(
  u8: Uint8Array,
  offset: number,
  maxBytes: number,
  text: string,
  lengthBytes: number,
): void {
  let p = offset;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      u8[p++] = c;
      continue;
    }
    if (c < 0x800) {
      u8[p++] = 0xc0 | (c >> 6);
      u8[p++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        u8[p++] = 0xf0 | (c >> 18);
        u8[p++] = 0x80 | ((c >> 12) & 0x3f);
        u8[p++] = 0x80 | ((c >> 6) & 0x3f);
        u8[p++] = 0x80 | (c & 0x3f);
        continue;
      }
      c = 0xfffd;
    }
    u8[p++] = 0xe0 | (c >> 12);
    u8[p++] = 0x80 | ((c >> 6) & 0x3f);
    u8[p++] = 0x80 | (c & 0x3f);
  }
  if (lengthBytes < maxBytes) u8.fill(0, offset + lengthBytes, offset + maxBytes);
}

/** Reads the string stored in the `maxBytes` field at `offset` (up to the first zero byte). */
export function _utf8Read(u8: Uint8Array, offset: number, maxBytes: number): string {
  let end = offset;
  const limit = offset + maxBytes;
  let ascii = true;
  while (end < limit) {
    const b = u8[end];
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  const n = end - offset;
  if (n === 0) return "";
  if (ascii && n <= 64) {
    let s = "";
    for (let i = offset; i < end; i++) s += String.fromCharCode(u8[i]);
    return s;
  }
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  scratch.set(u8.subarray(offset, end));
  return decoder.decode(scratch.subarray(0, n));
}

/** The number of UTF-8 bytes `text` encodes to (lone surrogates count as U+FFFD; U+0000 is one byte). */
export function _utf8Bytes(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

/** Longest string read by the straight-line ASCII readers. */
const ASCII_READ_MAX = 32;

/**
 * `ASCII_READERS[n](u8, q)`: the `n` bytes at `q` as a string if they are all
 * ASCII, else null. One `String.fromCharCode` call with `n` arguments, so the
 * only object made is the string itself.
 */
const ASCII_READERS: ((u8: Uint8Array, q: number) => string | null)[] = [];
for (let n = 1; n <= ASCII_READ_MAX; n++) {
  const names = Array.from({ length: n }, (_, i) => `c${i}`);
  const loads = names.map((c, i) => `${c} = u8[q${i === 0 ? "" : ` + ${i}`}]`).join(", ");
  ASCII_READERS[n] = new Function(
    "fromCharCode",
    `"use strict"; return function ascii${n}(u8, q) { var ${loads}; if ((${
      names.join(" | ")
    }) > 127) return null; return fromCharCode(${names.join(", ")}); };`,
  )(String.fromCharCode);
}

/** Decodes the `n` (≥ 1) UTF-8 bytes at `offset` (malformed sequences become U+FFFD). */
export function _utf8ReadN(u8: Uint8Array, offset: number, n: number): string {
  if (n <= ASCII_READ_MAX) {
    const s = ASCII_READERS[n](u8, offset);
    if (s !== null) return s;
  }
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  scratch.set(u8.subarray(offset, offset + n));
  return decoder.decode(scratch.subarray(0, n));
}
