/**
 * Type-level mirror of the runtime schema compilers, so library users get a typed result from the
 * same schema value they pass at runtime. Types only: nothing here exists at runtime.
 *
 * The DSL parser consumes whole chunks (keywords, keys, quoted strings) via template-literal
 * inference rather than single characters, and loops over fields in tail position, so recursion depth
 * grows with nesting, not with the number of fields: tsc stays far from its instantiation limits.
 */
import type { z } from "zod";

export type InferOutput<S> = S extends z.core.$ZodType
  ? z.infer<S>
  : S extends string
    ? string extends S
      ? unknown
      : InferDsl<S>
    : S extends object
      ? InferJsonSchema<S>
      : unknown;

// ---------------------------------------------------------------------------------------------------
// DSL: `{ name: string, tags: string[], score?: number }`

/** Parse failures carry this marker instead of `never`, which would silently match tuple patterns. */
interface Fail {
  readonly __dslParseFailed: true;
}

type Whitespace = " " | "\n" | "\t" | "\r";
type IdentChar =
  | "a" | "b" | "c" | "d" | "e" | "f" | "g" | "h" | "i" | "j" | "k" | "l" | "m"
  | "n" | "o" | "p" | "q" | "r" | "s" | "t" | "u" | "v" | "w" | "x" | "y" | "z"
  | "A" | "B" | "C" | "D" | "E" | "F" | "G" | "H" | "I" | "J" | "K" | "L" | "M"
  | "N" | "O" | "P" | "Q" | "R" | "S" | "T" | "U" | "V" | "W" | "X" | "Y" | "Z"
  | "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "_" | "$";

type Trim<S extends string> = S extends `${Whitespace}${infer R}` ? Trim<R> : S;
type TrimEnd<S extends string> = S extends `${infer R}${Whitespace}` ? TrimEnd<R> : S;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type InferDsl<S extends string> = ParseType<S> extends [infer T, infer Rest extends string] ? (Trim<Rest> extends "" ? T : unknown) : unknown;

type Keywords = {
  string: string;
  number: number;
  integer: number;
  boolean: boolean;
  null: null;
  any: unknown;
  unknown: unknown;
};

/** Matches a keyword only when it is a whole word: `stringy` is not `string` followed by `y`. */
type ParseKeyword<S extends string, K extends keyof Keywords = keyof Keywords> = K extends keyof Keywords
  ? S extends `${K}${infer Rest}`
    ? Rest extends `${IdentChar}${string}`
      ? never
      : [Keywords[K], Rest]
    : never
  : never;

type ParsePrimary<S extends string> =
  Trim<S> extends `{${infer Rest}`
    ? ParseFields<Rest, {}, {}>
    : Trim<S> extends `(${infer Rest}`
      ? ParseType<Rest> extends [infer T, infer After extends string]
        ? Trim<After> extends `)${infer Rest2}`
          ? [T, Rest2]
          : Fail
        : Fail
      : Trim<S> extends `"${infer Literal}"${infer Rest}`
        ? [Literal, Rest]
        : Trim<S> extends `'${infer Literal}'${infer Rest}`
          ? [Literal, Rest]
          : [ParseKeyword<Trim<S>>] extends [never]
            ? Fail
            : ParseKeyword<Trim<S>>;

/** A primary followed by any number of `[]`. */
type ParseMember<S extends string> = ParsePrimary<S> extends [infer T, infer Rest extends string] ? ArraySuffixes<T, Rest> : Fail;

type ArraySuffixes<T, S extends string> = Trim<S> extends `[${infer Inner}`
  ? Trim<Inner> extends `]${infer Rest}`
    ? ArraySuffixes<T[], Rest>
    : Fail
  : [T, S];

type ParseType<S extends string> = ParseUnion<Trim<S> extends `|${infer Rest}` ? Rest : S, never>;

type ParseUnion<S extends string, Acc> = ParseMember<S> extends [infer T, infer Rest extends string]
  ? Trim<Rest> extends `|${infer Next}`
    ? ParseUnion<Next, Acc | T>
    : [Acc | T, Rest]
  : Fail;

type ParseKey<S extends string> =
  Trim<S> extends `"${infer Key}"${infer Rest}`
    ? [Key, Rest]
    : Trim<S> extends `'${infer Key}'${infer Rest}`
      ? [Key, Rest]
      : Trim<S> extends `${infer Key}:${infer Rest}`
        ? TrimEnd<Key> extends `${infer Name}?`
          ? IdentifierKey<TrimEnd<Name>, `?:${Rest}`>
          : IdentifierKey<TrimEnd<Key>, `:${Rest}`>
        : Fail;

/** Everything up to the first ":" was taken as the key; reject it unless it is one bare word. */
type IdentifierKey<Key extends string, Rest extends string> = Key extends "" | `${string}${Whitespace | "," | ";" | "{" | "}" | "?"}${string}`
  ? Fail
  : [Key, Rest];

type ParseFields<S extends string, Required, Optional> =
  Trim<S> extends `}${infer Rest}`
    ? [Simplify<Required & Partial<Optional>>, Rest]
    : ParseKey<S> extends [infer Key extends string, infer AfterKey extends string]
      ? Trim<AfterKey> extends `?${infer AfterMark}`
        ? Trim<AfterMark> extends `:${infer TypeSource}`
          ? ParseType<TypeSource> extends [infer T, infer Rest extends string]
            ? ParseFields<SkipSeparator<Rest>, Required, Optional & { [P in Key]: T }>
            : Fail
          : Fail
        : Trim<AfterKey> extends `:${infer TypeSource}`
          ? ParseType<TypeSource> extends [infer T, infer Rest extends string]
            ? ParseFields<SkipSeparator<Rest>, Required & { [P in Key]: T }, Optional>
            : Fail
          : Fail
      : Fail;

/** Newlines also separate fields; Trim has already eaten them, so "no separator" is accepted here. */
type SkipSeparator<S extends string> = Trim<S> extends `${"," | ";"}${infer Rest}` ? Rest : S;

// ---------------------------------------------------------------------------------------------------
// JSON Schema declared `as const`

type InferJsonSchema<S> = S extends { readonly anyOf: readonly (infer Branch)[] }
  ? InferJsonSchema<Branch>
  : S extends { readonly enum: readonly (infer Value)[] }
    ? Value
    : S extends { readonly const: infer Value }
      ? Value
      : S extends { readonly type: readonly (infer Type)[] }
        ? JsonTypeOf<Type, S>
        : S extends { readonly type: infer Type }
          ? JsonTypeOf<Type, S>
          : unknown;

type JsonTypeOf<Type, S> = Type extends "string"
  ? string
  : Type extends "number" | "integer"
    ? number
    : Type extends "boolean"
      ? boolean
      : Type extends "null"
        ? null
        : Type extends "array"
          ? S extends { readonly items: infer Items }
            ? InferJsonSchema<Items>[]
            : unknown[]
          : Type extends "object"
            ? S extends { readonly properties: infer Properties }
              ? JsonObject<Properties, S extends { readonly required: readonly (infer R)[] } ? R : never>
              : Record<string, unknown>
            : unknown;

type JsonObject<Properties, Required> = Simplify<
  { -readonly [K in keyof Properties as K extends Required ? K : never]: InferJsonSchema<Properties[K]> } & {
    -readonly [K in keyof Properties as K extends Required ? never : K]?: InferJsonSchema<Properties[K]>;
  }
>;
