/**
 * A strict JSON parser for safetensors headers. `JSON.parse` is not enough for an untrusted
 * header: it keeps the last of two equal keys (a file could then name one tensor twice), turns
 * `1e999` into Infinity and recurses without a depth limit. This parser rejects duplicate keys,
 * limits nesting, returns objects as Maps (no `__proto__` surprises) and keeps the one fact the
 * header needs about numbers: whether the literal is a plain non-negative integer.
 */

/** A JSON number written with a sign, fraction or exponent (never a valid size or offset). */
export class JsonNumber {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
}

export type JsonValue = null | boolean | number | JsonNumber | string | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/** Malformed JSON; the message says what and where. */
export class JsonSyntaxError extends Error {}

const INTEGER = /0|[1-9][0-9]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/**
 * Parses `text` as one JSON value surrounded by optional whitespace. Plain non-negative integer
 * literals become numbers (possibly unsafe ones, >= 2^53: check with Number.isSafeInteger);
 * every other number literal becomes a JsonNumber.
 */
export function parseJson(text: string, maxDepth = 64): JsonValue {
  let pos = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${pos}`);
  };
  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(`expected '${ch}'${pos < text.length ? `, found ${JSON.stringify(text[pos])}` : ", found the end"}`);
    pos++;
  };
  const literal = (word: string, value: JsonValue): JsonValue => {
    if (!text.startsWith(word, pos)) fail("unexpected characters");
    pos += word.length;
    return value;
  };
  const hex4 = (): number => {
    const digits = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail("bad \\u escape");
    pos += 4;
    return parseInt(digits, 16);
  };

  const parseString = (): string => {
    expect('"');
    let out = "";
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(runStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(runStart, pos);
      pos++;
      const e = text[pos++];
      if (e === "u") {
        const unit = hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) fail("lone low surrogate in \\u escape");
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[pos] !== "\\" || text[pos + 1] !== "u") fail("lone high surrogate in \\u escape");
          pos += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) fail("lone high surrogate in \\u escape");
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        const decoded = e === undefined ? undefined : ESCAPES[e];
        if (decoded === undefined) fail("bad escape in string");
        out += decoded;
      }
      runStart = pos;
    }
  };

  const parseNumber = (): number | JsonNumber => {
    INTEGER.lastIndex = pos;
    NUMBER.lastIndex = pos;
    const full = NUMBER.exec(text);
    if (!full) return fail("bad number");
    const integer = INTEGER.exec(text);
    pos += full[0].length;
    if (integer && integer[0].length === full[0].length) return Number(full[0]);
    return new JsonNumber(full[0], Number(full[0]));
  };

  const parseValue = (depth: number): JsonValue => {
    skipWhitespace();
    const c = text[pos];
    if (c === "{" || c === "[") {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth} levels`);
      return c === "{" ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return parseNumber();
    return fail(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
  };

  const parseObject = (depth: number): JsonObject => {
    expect("{");
    const out: JsonObject = new Map();
    skipWhitespace();
    if (text[pos] === "}") {
      pos++;
      return out;
    }
    for (;;) {
      skipWhitespace();
      const keyAt = pos;
      const key = parseString();
      if (out.has(key)) {
        pos = keyAt;
        fail(`duplicate key ${JSON.stringify(key)}`);
      }
      skipWhitespace();
      expect(":");
      out.set(key, parseValue(depth));
      skipWhitespace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      expect("}");
      return out;
    }
  };

  const parseArray = (depth: number): JsonValue[] => {
    expect("[");
    const out: JsonValue[] = [];
    skipWhitespace();
    if (text[pos] === "]") {
      pos++;
      return out;
    }
    for (;;) {
      out.push(parseValue(depth));
      skipWhitespace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      expect("]");
      return out;
    }
  };

  const value = parseValue(0);
  skipWhitespace();
  if (pos !== text.length) fail("unexpected characters after the JSON value");
  return value;
}
