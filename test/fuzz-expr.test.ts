/**
 * The expression parser behind `chainrule explain` and the playground's explorer
 * (src/viz/expr.ts: parseExpression, buildExpression), fuzzed with fast-check (issue 15):
 * - any text (random unicode, token soup, mutations of valid formulas, deep nesting, very long
 *   input) parses or throws a chainrule error (ExpressionError), within a time bound — never
 *   another exception, a stack overflow or a hang;
 * - a formula generated from the grammar parses, and the graph buildExpression makes computes
 *   the value that the generator's own evaluation gives, with a backward pass that runs.
 *
 * CHAINRULE_FUZZ_RUNS=k multiplies the runs (long mode); CHAINRULE_FUZZ_SEED changes the seed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainruleError } from "../src/index.js";
import { buildExpression, parseExpression } from "../src/viz/expr.js";

const MULTIPLIER = Math.max(1, Math.floor(Number(process.env.CHAINRULE_FUZZ_RUNS ?? "1")) || 1);
const SEED = Number(process.env.CHAINRULE_FUZZ_SEED ?? "20261206") | 0;
const RUNS = 400 * MULTIPLIER;
/** Per case: parsing and building a formula of a few thousand characters takes milliseconds. */
const BOUND_MS = 500;

/** Parses and, when that succeeds, builds and backpropagates with every variable set to 0.7. */
function attempt(source: string): void {
  const t0 = performance.now();
  try {
    const parsed = parseExpression(source);
    const values = Object.fromEntries(parsed.variables.map((v) => [v, 0.7]));
    const { output } = buildExpression(parsed, values);
    if (output.requiresGrad) output.backward();
  } catch (e) {
    if (!(e instanceof ChainruleError)) throw new Error(`${JSON.stringify(source.slice(0, 80))}: ${(e as Error).name}: ${(e as Error).message}`);
  }
  const ms = performance.now() - t0;
  if (ms > BOUND_MS) throw new Error(`${JSON.stringify(source.slice(0, 80))} (${source.length} characters) took ${ms.toFixed(0)} ms`);
}

const TOKENS = ["x", "y", "z", "w1", "1", "2.5", "0", "1e3", ".5", "+", "-", "*", "/", "^", "**", "×", "·", "÷", "−", "(", ")", ",", " ", "exp", "log", "sigmoid", "tanh", "relu", "max", "min", "foo", "1e999", "NaN", "Infinity"];

/** A formula from the grammar, with its value computed by the generator (x = 0.7, y = 0.7, …). */
interface Gen {
  text: string;
  value: number;
}
const X = 0.7;
const leafGen: fc.Arbitrary<Gen> = fc.oneof(
  fc.constantFrom<Gen>({ text: "x", value: X }, { text: "y", value: X }, { text: "z", value: X }),
  fc.integer({ min: 0, max: 9 }).map((v) => ({ text: String(v), value: v })),
  fc.constantFrom<Gen>({ text: "0.25", value: 0.25 }, { text: "1.5", value: 1.5 }),
);
const formula: fc.Arbitrary<Gen> = fc.letrec<{ e: Gen }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafGen,
    fc.tuple(tie("e"), fc.constantFrom("+", "-", "*", "/"), tie("e")).map(([a, op, b]) => ({
      text: `(${a.text} ${op} ${b.text})`,
      value: op === "+" ? a.value + b.value : op === "-" ? a.value - b.value : op === "*" ? a.value * b.value : a.value / b.value,
    })),
    fc.tuple(fc.constantFrom("exp", "tanh", "sigmoid", "relu"), tie("e")).map(([f, a]) => ({
      text: `${f}(${a.text})`,
      value: f === "exp" ? Math.exp(a.value) : f === "tanh" ? Math.tanh(a.value) : f === "sigmoid" ? 1 / (1 + Math.exp(-a.value)) : Math.max(a.value, 0),
    })),
    fc.tuple(fc.constantFrom("max", "min"), tie("e"), tie("e")).map(([f, a, b]) => ({ text: `${f}(${a.text}, ${b.text})`, value: f === "max" ? Math.max(a.value, b.value) : Math.min(a.value, b.value) })),
    tie("e").map((a) => ({ text: `-${a.text}`, value: -a.value })),
  ),
})).e;

describe("fuzz: the expression parser", () => {
  it(`random unicode text (${RUNS} runs): a result or an ExpressionError, in time`, () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => attempt(s)), { seed: SEED, numRuns: RUNS });
  });

  it(`token soup (${RUNS} runs): a result or an ExpressionError, in time`, () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), (ts) => attempt(ts.join(""))), { seed: SEED + 1, numRuns: RUNS });
  });

  it(`formulas from the grammar (${RUNS} runs): they parse, and the graph computes the generator's value`, () => {
    fc.assert(
      fc.property(formula, (f) => {
        const names = ["x", "y", "z"].filter((v) => new RegExp(`\\b${v}\\b`).test(f.text));
        const { output } = buildExpression(f.text, Object.fromEntries(names.map((v) => [v, X])));
        const got = output.item();
        if (Number.isNaN(f.value)) expect(got).toBeNaN();
        else if (!Number.isFinite(f.value)) expect(got).toBe(f.value);
        else expect(Math.abs(got - f.value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(f.value)));
        if (output.requiresGrad) output.backward();
      }),
      { seed: SEED + 2, numRuns: RUNS },
    );
  });

  it(`mutations of valid formulas (${RUNS} runs: a character deleted, inserted or replaced): a result or an ExpressionError`, () => {
    fc.assert(
      fc.property(formula, fc.nat(), fc.constantFrom(...TOKENS, "(", ")", "\u0000", "é", "$"), fc.constantFrom("delete", "insert", "replace"), (f, at, token, kind) => {
        const i = at % Math.max(1, f.text.length);
        const s = kind === "delete" ? f.text.slice(0, i) + f.text.slice(i + 1) : kind === "insert" ? f.text.slice(0, i) + token + f.text.slice(i) : f.text.slice(0, i) + token + f.text.slice(i + 1);
        attempt(s);
      }),
      { seed: SEED + 3, numRuns: RUNS },
    );
  });

  it("deep nesting, long chains and huge inputs answer in time (no stack overflow)", () => {
    for (const depth of [10, 100, 500, 1000, 5000, 100_000]) {
      attempt(`${"(".repeat(depth)}x${")".repeat(depth)}`);
      attempt(`${"-".repeat(depth)}x`);
      attempt(`${"exp(".repeat(depth)}x${")".repeat(depth)}`);
      attempt(Array.from({ length: depth }, () => "x").join("+"));
      attempt(`${"(".repeat(depth)}x`);
    }
    attempt("x".repeat(1_000_000));
    attempt("1".repeat(100_000));
  });
});
