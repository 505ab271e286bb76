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

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/**
 * Parses `text` as one JSON value surrounded by optional whitespace. Plain non-negative integer
 * literals become numbers (possibly unsafe ones, >= 2^53: check with Number.isSafeInteger);
 * every other number literal becomes a JsonNumber.
 */
export function parseJson(text: string, maxDepth = 64): JsonValue {
  const reader = new JsonReader(text, maxDepth);
  const value = reader.value(0);
  reader.end();
  return value;
}

/**
 * A cursor over JSON text, for readers that validate as they go (the safetensors header): a
 * hostile header fails at its first bad entry instead of after the whole text is parsed, and a
 * valid one is read without building a Map per entry. Same strictness as parseJson.
 */
export class JsonReader {
  pos = 0;

  constructor(
    readonly text: string,
    readonly maxDepth = 64,
  ) {}

  /** Throws a JsonSyntaxError saying what and where. */
  fail(what: string): never {
    throw new JsonSyntaxError(`${what} at character ${this.pos}`);
  }

  /** The next non-whitespace character (undefined at the end), not consumed. */
  peek(): string | undefined {
    this.skipWhitespace();
    return this.text[this.pos];
  }

  /** Only whitespace may follow. */
  end(): void {
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail("unexpected characters after the JSON value");
  }

  /**
   * Reads an object, calling `member(key)` with the cursor at each value; `member` must read the
   * value (with value(), string(), object()...). Duplicate keys are a JsonSyntaxError.
   */
  object(depth: number, member: (key: string) => void): void {
    if (!this.openObject(depth)) return;
    // Small objects (a tensor entry) check duplicates in a list; a Set only past 8 keys.
    const few: string[] = [];
    let many: Set<string> | undefined;
    do {
      const keyAt = this.pos;
      const key = this.key();
      if (many !== undefined ? many.has(key) : few.includes(key)) this.duplicate(key, keyAt);
      if (many !== undefined) many.add(key);
      else if (few.push(key) > 8) many = new Set(few);
      member(key);
    } while (this.more());
  }

  /** Consumes "{" (after whitespace); false, with "}" consumed too, when the object is empty. */
  openObject(depth: number): boolean {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    this.skipWhitespace();
    this.expect("{");
    this.skipWhitespace();
    if (this.text[this.pos] !== "}") return true;
    this.pos++;
    return false;
  }

  /** A member's key and its ":"; the cursor is then at the value. */
  key(): string {
    this.skipWhitespace();
    const key = this.string();
    this.skipWhitespace();
    this.expect(":");
    return key;
  }

  /** After a member's value: true when another member follows (its "," consumed), false at the closing "}" (consumed). */
  more(): boolean {
    this.skipWhitespace();
    if (this.text[this.pos] === ",") {
      this.pos++;
      return true;
    }
    this.expect("}");
    return false;
  }

  /** Fails on a repeated key, pointing at it. */
  duplicate(key: string, at: number): never {
    this.pos = at;
    return this.fail(`duplicate key ${JSON.stringify(key.length > 60 ? `${key.slice(0, 57)}...` : key)}`);
  }

  /** Any value; objects become Maps (insertion order, no prototype). */
  value(depth: number): JsonValue {
    const c = this.peek();
    if (c === "{") {
      const out: JsonObject = new Map();
      this.object(depth, (key) => out.set(key, this.value(depth + 1)));
      return out;
    }
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "t") return this.literal("true", true);
    if (c === "f") return this.literal("false", false);
    if (c === "n") return this.literal("null", null);
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    return this.fail(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
  }

  array(depth: number): JsonValue[] {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    this.skipWhitespace();
    this.expect("[");
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWhitespace();
      if (this.text[this.pos] === ",") {
        this.pos++;
        continue;
      }
      this.expect("]");
      return out;
    }
  }

  string(): string {
    const text = this.text;
    this.expect('"');
    let out = "";
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= text.length) this.fail("unterminated string");
      const c = text.charCodeAt(this.pos);
      if (c === 0x22) {
        out += text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail("control character in string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += text.slice(runStart, this.pos);
      this.pos++;
      const e = text[this.pos++];
      if (e === "u") {
        const unit = this.hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail("lone low surrogate in \\u escape");
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[this.pos] !== "\\" || text[this.pos + 1] !== "u") this.fail("lone high surrogate in \\u escape");
          this.pos += 2;
          const low = this.hex4();
          if (low < 0xdc00 || low > 0xdfff) this.fail("lone high surrogate in \\u escape");
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        const decoded = e === undefined ? undefined : ESCAPES[e];
        if (decoded === undefined) this.fail("bad escape in string");
        out += decoded;
      }
      runStart = this.pos;
    }
  }

  /** A number literal: a plain non-negative integer as a number, anything else as a JsonNumber. */
  number(): number | JsonNumber {
    const text = this.text;
    const start = this.pos;
    let p = start;
    const digits = (): boolean => {
      const from = p;
      while (p < text.length && text.charCodeAt(p) >= 0x30 && text.charCodeAt(p) <= 0x39) p++;
      return p > from;
    };
    const negative = text[p] === "-";
    if (negative) p++;
    const intStart = p;
    if (!digits()) this.fail("bad number");
    if (text[intStart] === "0" && p - intStart > 1) {
      // JSON allows no leading zeros: "01" is the number 0 followed by junk.
      p = intStart + 1;
    }
    let plain = !negative;
    if (text[p] === ".") {
      p++;
      if (!digits()) {
        this.pos = p;
        this.fail("bad number");
      }
      plain = false;
    }
    if (text[p] === "e" || text[p] === "E") {
      p++;
      if (text[p] === "+" || text[p] === "-") p++;
      if (!digits()) {
        this.pos = p;
        this.fail("bad number");
      }
      plain = false;
    }
    this.pos = p;
    if (plain && p - start <= 15) {
      // A short plain integer (every size and offset): its value without a substring.
      let v = 0;
      for (let i = start; i < p; i++) v = v * 10 + (text.charCodeAt(i) - 0x30);
      return v;
    }
    const literal = text.slice(start, p);
    return plain ? Number(literal) : new JsonNumber(literal, Number(literal));
  }

  private skipWhitespace(): void {
    const text = this.text;
    let p = this.pos;
    while (isSpace(text.charCodeAt(p))) p++;
    this.pos = p;
  }

  private expect(ch: string): void {
    if (this.text[this.pos] !== ch) this.fail(`expected '${ch}'${this.pos < this.text.length ? `, found ${JSON.stringify(this.text[this.pos])}` : ", found the end"}`);
    this.pos++;
  }

  private literal(word: string, value: JsonValue): JsonValue {
    if (!this.text.startsWith(word, this.pos)) this.fail("unexpected characters");
    this.pos += word.length;
    return value;
  }

  private hex4(): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail("bad \\u escape");
    this.pos += 4;
    return parseInt(digits, 16);
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
