import { Decimal } from "decimal.js";

/**
 * JSON.parse, except that a number written with more digits than a double holds
 * (`0.00000012345678901234567`, `12.345678901234567891`) is kept exactly, as its decimal text: a price or
 * an amount read as a float would lose its last digits before Airlock saw them. Every other number stays a
 * number, so fields that take numbers (counts, hours) read as before. JSON.parse judges the syntax and its
 * own rules (the last of two equal keys); the text is then parsed again only when such a number is in it.
 */
export function parseJsonWithExactNumbers(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const inexact = inexactNumbers(text);
  if (inexact.length === 0) return value;
  let quoted = "";
  let at = 0;
  for (const [start, end] of inexact) {
    quoted += text.slice(at, start) + JSON.stringify(exactText(text.slice(start, end)));
    at = end;
  }
  return JSON.parse(quoted + text.slice(at));
}

/**
 * Where the numbers that a double does not hold exactly are, as [start, end) offsets. The text is valid
 * JSON (JSON.parse has read it), so outside strings a `-` or a digit starts a number, which runs to the
 * first character that no number has.
 */
function inexactNumbers(text: string): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberCharacter(text.charCodeAt(end))) end++;
      if (!heldByDouble(text.slice(i, end))) found.push([i, end]);
      i = end - 1;
    }
  }
  return found;
}

function isNumberCharacter(c: number): boolean {
  // digits, `.`, `e`, `E`, `+`, `-`
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

function heldByDouble(written: string): boolean {
  const read = Number(written);
  if (String(read) === written) return true; // the usual case, settled without a Decimal
  // A whole number written without a point or an exponent loses digits only past 2^53, far past every
  // amount (10^12) and count (2^31) Airlock takes: left a number, it is refused for its size, as before,
  // rather than as a string where a count was expected.
  if (/^-?\d+$/.test(written)) return true;
  // Past a double's range (1e400) JSON.parse gives Infinity, which what reads the field refuses as it always did.
  if (!Number.isFinite(read)) return true;
  return new Decimal(written).eq(new Decimal(read));
}

/**
 * The number's decimal text in full (`1.5e-7` → `0.00000015`), as a price written as a string is. An
 * exponent past 100 is left as written: written out in full it could run to millions of digits, and no
 * field that takes a decimal takes it either way.
 */
function exactText(written: string): string {
  const exponent = written.search(/[eE]/);
  if (exponent >= 0 && Math.abs(Number(written.slice(exponent + 1))) > 100) return written;
  return new Decimal(written).toFixed();
}
