import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { compileTemplate } from "./template.js";

function thrown(fn: () => unknown): AirlockError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AirlockError);
    return err as AirlockError;
  }
  throw new Error("expected a throw");
}

describe("compileTemplate: rendering", () => {
  it("substitutes top-level, nested and indexed paths", () => {
    const t = compileTemplate("Hi {{ name }}, {{user.name}} / {{ items.0 }} / {{items[1].title}} / {{ m[0][1] }}");
    const out = t.render({ name: "Ada", user: { name: "Grace" }, items: ["first", { title: "second" }], m: [[1, 2]] });
    expect(out).toBe("Hi Ada, Grace / first / second / 2");
  });

  it("renders a template without expressions verbatim", () => {
    expect(compileTemplate("").render({})).toBe("");
    expect(compileTemplate("plain } text }} {").render({})).toBe("plain } text }} {");
  });

  it("formats values by type", () => {
    const t = compileTemplate("{{s}}|{{n}}|{{b}}|{{big}}|{{o}}|{{a}}|{{z}}|{{e}}");
    const out = t.render({ s: "x", n: 1.5, b: false, big: 10n, o: { k: [1, "v"], n: 2n }, a: [1, null], z: null, e: "" });
    expect(out).toBe('x|1.5|false|10|{"k":[1,"v"],"n":"2"}|[1,null]|null|');
  });

  it("does not re-interpret braces inside substituted values", () => {
    expect(compileTemplate("{{a}}").render({ a: "{{b}}" })).toBe("{{b}}");
  });

  it("emits a literal {{ for \\{{", () => {
    const t = compileTemplate("use \\{{ name }} for {{ name }}");
    expect(t.render({ name: "Ada" })).toBe("use {{ name }} for Ada");
    expect(t.variables).toEqual(["name"]);
  });

  it("reads objects without a prototype", () => {
    const vars = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(compileTemplate("{{a}}").render(vars)).toBe("1");
  });

  it("matches String() for any primitive and JSON for any JSON value", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.bigInt()), fc.jsonValue(), (p, j) => {
        const out = compileTemplate("{{p}}:{{j}}").render({ p, j });
        expect(out).toBe(`${String(p)}:${j === null ? "null" : typeof j === "string" ? j : JSON.stringify(j)}`);
      }),
    );
  });
});

describe("compileTemplate: missing variables", () => {
  it("names the full path and the param", () => {
    const t = compileTemplate("Hello {{ user.name }}");
    for (const vars of [{}, { user: {} }, { user: null }, { user: "Ada" }, { user: { name: undefined } }]) {
      const err = thrown(() => t.render(vars));
      expect(err.code).toBe("invalid_request");
      expect(err.status).toBe(400);
      expect(err.message).toBe('template variable "user.name" is missing');
      expect(err.param).toBe("variables.user.name");
    }
  });

  it("uses the dotted form for indexed paths and treats out-of-range indexes as missing", () => {
    const err = thrown(() => compileTemplate("{{ items[2].title }}").render({ items: [{ title: "a" }] }));
    expect(err.message).toBe('template variable "items.2.title" is missing');
    expect(err.param).toBe("variables.items.2.title");
  });

  it("reports the first missing variable in template order", () => {
    const err = thrown(() => compileTemplate("{{ a }} {{ b }} {{ c }}").render({ a: 1 }));
    expect(err.param).toBe("variables.b");
  });

  it("never reads inherited properties", () => {
    for (const src of ["{{constructor}}", "{{__proto__}}", "{{ toString }}", "{{ a.constructor.name }}", "{{ a.__proto__ }}", "{{ s.length }}"]) {
      const err = thrown(() => compileTemplate(src).render({ a: {}, s: "abc" }));
      expect(err.code).toBe("invalid_request");
    }
  });

  it("treats functions as missing rather than rendering source code", () => {
    expect(thrown(() => compileTemplate("{{f}}").render({ f: () => 1 })).param).toBe("variables.f");
  });

  it("reports unrenderable (circular) objects as invalid_request", () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    const err = thrown(() => compileTemplate("{{o}}").render({ o }));
    expect(err.code).toBe("invalid_request");
    expect(err.param).toBe("variables.o");
  });
});

describe("compileTemplate: malformed templates", () => {
  const cases: Array<[string, RegExp, { offset: number; line: number; column: number }]> = [
    ["Hello {{ name", /unclosed "\{\{" at line 1, column 7/, { offset: 6, line: 1, column: 7 }],
    ["a\nbc {{ }} d", /empty expression .* at line 2, column 4/, { offset: 5, line: 2, column: 4 }],
    ["{{}}", /empty expression .* at line 1, column 1/, { offset: 0, line: 1, column: 1 }],
    ["x {{ a..b }}", /invalid variable path "a\.\.b" at line 1, column 3/, { offset: 2, line: 1, column: 3 }],
    ["{{ 0 }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["{{ a[x] }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["{{ a[0 }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["{{ a. }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["{{ a b }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["{{ a-b }}", /invalid variable path/, { offset: 0, line: 1, column: 1 }],
    ["ok {{a}} then {{ {b} }}", /invalid variable path/, { offset: 14, line: 1, column: 15 }],
  ];

  it.each(cases)("rejects %j as misconfigured with its position", (src, message, position) => {
    const err = thrown(() => compileTemplate(src));
    expect(err.code).toBe("misconfigured");
    expect(err.message).toMatch(message);
    expect(err.details).toEqual({ position });
  });
});

describe("compileTemplate: variables", () => {
  it("lists unique paths in first-use order, normalising index syntax", () => {
    const t = compileTemplate("{{ b }} {{a.x}} {{ b }} {{ items[0].t }} {{ items.0.t }} {{a.x}} {{ c }}");
    expect(t.variables).toEqual(["b", "a.x", "items.0.t", "c"]);
    expect(Object.isFrozen(t.variables)).toBe(true);
  });

  it("keeps the source", () => {
    expect(compileTemplate("{{ a }}").source).toBe("{{ a }}");
  });
});
