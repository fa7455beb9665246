import { describe, expect, it } from "vitest";
import { parseJsonWithExactNumbers } from "./exact-json.js";

describe("parseJsonWithExactNumbers", () => {
  it("keeps a number a double does not hold as its exact decimal text, and every other number (whole numbers written bare included) a number", () => {
    expect(parseJsonWithExactNumbers('{"a": 0.00000012345678901234567, "b": [1, -2.5, 1e3, 60.0, -0], "c": 12345678901234567891, "d": -1.00000000000000000001}')).toEqual({
      a: "0.00000012345678901234567",
      b: [1, -2.5, 1000, 60, -0],
      c: 12345678901234567891,
      d: "-1.00000000000000000001",
    });
    expect(parseJsonWithExactNumbers("0.1")).toBe(0.1);
    expect(parseJsonWithExactNumbers("1.2345678901234567890123e-5")).toBe("0.000012345678901234567890123");
  });

  it("leaves strings alone, escaped quotes and digits in them included", () => {
    expect(parseJsonWithExactNumbers('{"x\\"0.10000000000000000001": "\\"0.10000000000000000001\\\\", "y": 0.10000000000000000001}')).toEqual({
      'x"0.10000000000000000001': '"0.10000000000000000001\\',
      y: "0.10000000000000000001",
    });
  });

  it("writes no huge exponent out in full, and reads what JSON.parse refuses as JSON.parse does", () => {
    expect(parseJsonWithExactNumbers('{"a": 1e-999999999}')).toEqual({ a: "1e-999999999" });
    expect(parseJsonWithExactNumbers('{"a": 1e400}')).toEqual({ a: Infinity });
    expect(() => parseJsonWithExactNumbers('{"a": 01}')).toThrow(SyntaxError);
    expect(() => parseJsonWithExactNumbers('{"a": 1.}')).toThrow(SyntaxError);
  });
});
