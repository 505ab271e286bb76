/**
 * A small scalar expression language for the lecture's circuits: numbers, named variables,
 * + − * / ^ (× ÷ · and ** accepted too), unary minus, parentheses, and the functions exp, log,
 * sigmoid, tanh, relu, max(a, b), min(a, b). `parseExpression` turns the text into a tree;
 * `buildExpression` makes chainrule tensors of it (float64 scalars, named after the variables),
 * so the result can be explained and drawn. Errors point at the column, with a caret line.
 * Browser-safe.
 */
import { ValueError } from "../errors.js";
import { exp, log, maximum, minimum, relu, sigmoid, tanh, add, sub, mul, div, pow, neg } from "../ops/elementwise.js";
import { tensor } from "../tensor/creation.js";
import { Tensor } from "../tensor/tensor.js";

/** A parse or evaluation error, pointing at a column of the expression. */
export class ExpressionError extends ValueError {
  constructor(
    /** What is wrong, without the position ("unknown variable 'w'"). */
    readonly reason: string,
    /** The expression text. */
    readonly source: string,
    /** 1-based column the error points at. */
    readonly column: number,
  ) {
    const [shown, at] = excerpt(source, column - 1);
    super(`${reason} at column ${column}\n  ${shown}\n  ${" ".repeat(Math.max(0, at))}^`);
  }
}

/** Longest source line a message shows; a longer one is cut to a window around the column, with "…" where cut. */
const EXCERPT = 72;

/** The source as a message shows it, and the offset of `at` in that text. */
function excerpt(source: string, at: number): [string, number] {
  if (source.length <= EXCERPT) return [source, at];
  const start = Math.max(0, Math.min(at - EXCERPT / 2, source.length - EXCERPT));
  const end = Math.min(source.length, start + EXCERPT);
  const head = start > 0 ? "…" : "";
  return [`${head}${source.slice(start, end)}${end < source.length ? "…" : ""}`, at - start + head.length];
}

/** The expression quoted in a message: whole when short, else its start and its length. */
function quoted(source: string): string {
  return source.length <= EXCERPT ? `"${source}"` : `"${source.slice(0, EXCERPT - 12)}…" (${source.length} characters)`;
}

/** A name as messages print it: cut after 40 characters. */
function short(name: string): string {
  return name.length <= 40 ? name : `${name.slice(0, 40)}… (${name.length} characters)`;
}

/** Names as messages list them: the first 12, shortened. */
function listed(names: readonly string[]): string {
  return names.slice(0, 12).map(short).join(", ") + (names.length > 12 ? `, … (${names.length} in all)` : "");
}

/**
 * The most tokens (numbers, names, operators, parentheses) an expression may have: the tree is
 * built, explained and drawn recursively, one gate per operator, and a circuit this size is
 * already far past reading gate by gate. Longer text is an error, found before any work.
 */
export const MAX_TOKENS = 2000;

/** A node of the expression tree; `start`/`end` are 0-based offsets into the source. */
export type ExprNode =
  | { type: "number"; value: number; start: number; end: number }
  | { type: "variable"; name: string; start: number; end: number }
  | { type: "unary"; op: "-" | "+"; arg: ExprNode; start: number; end: number }
  | { type: "binary"; op: "+" | "-" | "*" | "/" | "^"; left: ExprNode; right: ExprNode; start: number; end: number }
  | { type: "call"; name: FunctionName; args: ExprNode[]; start: number; end: number }
  | { type: "group"; inner: ExprNode; start: number; end: number };

/** The functions the language knows, with their number of arguments. */
export const FUNCTIONS = { exp: 1, log: 1, sigmoid: 1, tanh: 1, relu: 1, max: 2, min: 2 } as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** A parsed expression. */
export interface Expression {
  source: string;
  root: ExprNode;
  /** Variable names in order of first use. */
  variables: string[];
}

export interface ParseOptions {
  /** The allowed variable names; any other name is an "unknown variable" error. Default: any name. */
  variables?: readonly string[];
}

type Token =
  | { kind: "number"; value: number; start: number; end: number }
  | { kind: "name"; name: string; start: number; end: number }
  | { kind: "op"; op: string; start: number; end: number }
  | { kind: "end"; start: number; end: number };

const OPERATOR_ALIASES: Record<string, string> = { "×": "*", "·": "*", "÷": "/", "−": "-", "**": "^" };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (reason: string, at: number): never => {
    throw new ExpressionError(reason, source, at + 1);
  };
  while (i < source.length) {
    const c = source[i]!;
    if (tokens.length >= MAX_TOKENS && !/\s/.test(c)) {
      fail(`the expression is too long: more than ${MAX_TOKENS} numbers, names and operators (it has ${source.length} characters); explain one part of it at a time`, i);
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const numberMatch = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i));
    if (numberMatch) {
      tokens.push({ kind: "number", value: Number(numberMatch[0]), start: i, end: i + numberMatch[0].length });
      i += numberMatch[0].length;
      continue;
    }
    const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
    if (nameMatch) {
      tokens.push({ kind: "name", name: nameMatch[0], start: i, end: i + nameMatch[0].length });
      i += nameMatch[0].length;
      continue;
    }
    if (source.startsWith("**", i)) {
      tokens.push({ kind: "op", op: "^", start: i, end: i + 2 });
      i += 2;
      continue;
    }
    if ("+-*/^(),".includes(c) || c in OPERATOR_ALIASES) {
      tokens.push({ kind: "op", op: OPERATOR_ALIASES[c] ?? c, start: i, end: i + 1 });
      i++;
      continue;
    }
    fail(`unexpected character '${c}' (the language has numbers, names, + - * / ^, parentheses and ${Object.keys(FUNCTIONS).join(", ")})`, i);
  }
  tokens.push({ kind: "end", start: source.length, end: source.length });
  return tokens;
}

/**
 * Parses `source` into a tree. Precedence, loosest first: + −, then * /, then unary minus, then ^
 * (right-associative, so -x^2 = -(x^2) and 2^-1 = 0.5).
 * @example parseExpression("(x+y)*z").variables // ["x", "y", "z"]
 */
export function parseExpression(source: string, options: ParseOptions = {}): Expression {
  const tokens = tokenize(source);
  let pos = 0;
  const variables: string[] = [];
  const allowed = options.variables ? new Set(options.variables) : undefined;
  const peek = (): Token => tokens[pos]!;
  const fail = (reason: string, at: number): never => {
    throw new ExpressionError(reason, source, at + 1);
  };
  const isOp = (t: Token, ...ops: string[]): boolean => t.kind === "op" && ops.includes(t.op);
  const describe = (t: Token): string => (t.kind === "end" ? "the end" : `'${source.slice(t.start, t.end)}'`);

  const expression = (): ExprNode => {
    let left = term();
    while (isOp(peek(), "+", "-")) {
      const op = (tokens[pos++] as { op: "+" | "-" }).op;
      const right = term();
      left = { type: "binary", op, left, right, start: left.start, end: right.end };
    }
    return left;
  };
  const term = (): ExprNode => {
    let left = unary();
    while (isOp(peek(), "*", "/")) {
      const op = (tokens[pos++] as { op: "*" | "/" }).op;
      const right = unary();
      left = { type: "binary", op, left, right, start: left.start, end: right.end };
    }
    return left;
  };
  const unary = (): ExprNode => {
    const t = peek();
    if (isOp(t, "-", "+")) {
      pos++;
      const arg = unary();
      return { type: "unary", op: (t as { op: "-" | "+" }).op, arg, start: t.start, end: arg.end };
    }
    return power();
  };
  const power = (): ExprNode => {
    const base = primary();
    if (isOp(peek(), "^")) {
      pos++;
      const exponent = unary();
      return { type: "binary", op: "^", left: base, right: exponent, start: base.start, end: exponent.end };
    }
    return base;
  };
  const primary = (): ExprNode => {
    const t = peek();
    if (t.kind === "number") {
      pos++;
      return { type: "number", value: t.value, start: t.start, end: t.end };
    }
    if (t.kind === "name") {
      pos++;
      if (isOp(peek(), "(")) {
        const open = tokens[pos++]!;
        if (!(t.name in FUNCTIONS)) fail(`unknown function '${t.name}' (known: ${Object.keys(FUNCTIONS).join(", ")})`, t.start);
        const name = t.name as FunctionName;
        const args: ExprNode[] = [];
        if (!isOp(peek(), ")")) {
          args.push(expression());
          while (isOp(peek(), ",")) {
            pos++;
            args.push(expression());
          }
        }
        const close = peek();
        if (!isOp(close, ")")) {
          if (close.kind === "end") fail(`unbalanced parenthesis: '(' is never closed; add the missing ')'`, open.start);
          fail(`expected ',' or ')' in the arguments of ${name}, found ${describe(close)}`, close.start);
        }
        pos++;
        const arity = FUNCTIONS[name];
        if (args.length !== arity) fail(`${name} takes ${arity} argument${arity === 1 ? "" : "s"}, got ${args.length}`, t.start);
        return { type: "call", name, args, start: t.start, end: close.end };
      }
      if (t.name in FUNCTIONS) fail(`'${t.name}' is a function: write ${t.name}(…)`, t.start);
      if (allowed && !allowed.has(t.name)) {
        fail(`unknown variable '${t.name}'${allowed.size ? ` (known: ${[...allowed].join(", ")})` : ""}`, t.start);
      }
      if (!variables.includes(t.name)) variables.push(t.name);
      return { type: "variable", name: t.name, start: t.start, end: t.end };
    }
    if (isOp(t, "(")) {
      pos++;
      const inner = expression();
      const close = peek();
      if (!isOp(close, ")")) {
        if (close.kind === "end") fail(`unbalanced parenthesis: '(' is never closed; add the missing ')'`, t.start);
        fail(`expected ')' to close the '(' at column ${t.start + 1}, found ${describe(close)}`, close.start);
      }
      pos++;
      return { type: "group", inner, start: t.start, end: close.end };
    }
    if (isOp(t, ")")) fail(`unbalanced parenthesis: ')' without a matching '('; remove it or add the '(' it closes`, t.start);
    if (t.kind === "end") {
      const last = tokens[pos - 1];
      fail(
        source.trim() === "" ? `empty expression: give a formula, e.g. "(x+y)*z"`
        : last?.kind === "op" && last.op !== ")" ? `the expression ends too early: a value is missing after '${source.slice(last.start, last.end)}'; complete it or remove the operator`
        : `the expression ends too early: a value is missing`,
        t.start,
      );
    }
    return fail(`expected a number, a variable, a function or '(', found ${describe(t)}`, t.start);
  };

  const root = expression();
  const rest = peek();
  if (rest.kind !== "end") {
    if (isOp(rest, ")")) fail(`unbalanced parenthesis: ')' without a matching '('; remove it or add the '(' it closes`, rest.start);
    fail(`unexpected ${describe(rest)} after a complete expression`, rest.start);
  }
  return { source, root, variables };
}

/** What `buildExpression` returns. */
export interface BuiltExpression {
  /** The output f (named "f", float64). A constant expression gives a tensor with no graph. */
  output: Tensor;
  /** One float64 scalar leaf per variable, requiring grad, named after it. */
  inputs: Record<string, Tensor>;
  expression: Expression;
}

export interface BuildOptions {
  /**
   * Label intermediate values with their source text ("x+y") when it is at most this long
   * (default 12; 0 for none), so explanations and pictures read like the formula.
   */
  labelLength?: number;
}

/**
 * Builds the expression as a chainrule graph: each variable a float64 scalar leaf requiring grad
 * (named after it), each operator and function one gate; numbers stay plain constants.
 * `values` must give every variable, and only those (both are errors pointing at the text).
 * @example
 * const { output } = buildExpression("(x+y)*z", { x: -2, y: 5, z: -4 });
 * console.log(explain(output));
 */
export function buildExpression(source: string | Expression, values: Readonly<Record<string, number>>, options: BuildOptions = {}): BuiltExpression {
  const expression = typeof source === "string" ? parseExpression(source) : source;
  const text = expression.source;
  for (const name of Object.keys(values)) {
    if (!expression.variables.includes(name)) {
      throw new ValueError(
        `unknown variable '${short(name)}': the expression ${quoted(text)} ${expression.variables.length ? `uses only ${listed(expression.variables)}` : "has no variables"}.`,
      );
    }
  }
  const inputs: Record<string, Tensor> = {};
  for (const name of expression.variables) {
    const v = values[name];
    if (v === undefined) {
      const at = findVariable(expression.root, name)!;
      throw new ExpressionError(`missing value for variable '${name}'`, text, at.start + 1);
    }
    if (typeof v !== "number" || Number.isNaN(v)) throw new ExpressionError(`the value of '${name}' is not a number`, text, findVariable(expression.root, name)!.start + 1);
    inputs[name] = tensor(v, { dtype: "float64", requiresGrad: true }).named(name);
  }
  const labelLength = options.labelLength ?? 12;
  const labelOf = (node: ExprNode): string | undefined => {
    const t = text.slice(node.start, node.end).trim();
    return t.length > 0 && t.length <= labelLength ? t : undefined;
  };

  type Value = Tensor | number;
  const build = (node: ExprNode): Value => {
    switch (node.type) {
      case "number":
        return node.value;
      case "variable":
        return inputs[node.name]!;
      case "group":
        return build(node.inner);
      case "unary": {
        const a = build(node.arg);
        if (node.op === "+") return a;
        if (typeof a === "number") return -a;
        return named(neg(a), node);
      }
      case "binary": {
        const a = build(node.left);
        const b = build(node.right);
        if (typeof a === "number" && typeof b === "number") {
          return node.op === "+" ? a + b : node.op === "-" ? a - b : node.op === "*" ? a * b : node.op === "/" ? a / b : a ** b;
        }
        const op = { "+": add, "-": sub, "*": mul, "/": div, "^": pow }[node.op];
        return named(op(a, b), node);
      }
      case "call": {
        const args = node.args.map(build);
        if (args.every((a) => typeof a === "number")) {
          const [a, b] = args as number[];
          const fns: Record<FunctionName, () => number> = {
            exp: () => Math.exp(a!),
            log: () => Math.log(a!),
            sigmoid: () => 1 / (1 + Math.exp(-a!)),
            tanh: () => Math.tanh(a!),
            relu: () => Math.max(a!, 0),
            max: () => Math.max(a!, b!),
            min: () => Math.min(a!, b!),
          };
          return fns[node.name]();
        }
        switch (node.name) {
          case "max":
            return named(maximum(args[0]!, args[1]!), node);
          case "min":
            return named(minimum(args[0]!, args[1]!), node);
          default: {
            const fn = { exp, log, sigmoid, tanh, relu }[node.name];
            return named(fn(args[0] as Tensor), node);
          }
        }
      }
    }
  };
  const named = (t: Tensor, node: ExprNode): Tensor => {
    const label = labelOf(node);
    return label !== undefined ? t.named(label) : t;
  };
  const result = build(expression.root);
  const output = typeof result === "number" ? tensor(result, { dtype: "float64" }) : result;
  // The lecture calls the output f (a lone variable keeps its own name).
  if (output.gradFn !== null || typeof result === "number") output.named("f");
  return { output, inputs, expression };
}

function findVariable(node: ExprNode, name: string): ExprNode | undefined {
  switch (node.type) {
    case "variable":
      return node.name === name ? node : undefined;
    case "number":
      return undefined;
    case "group":
      return findVariable(node.inner, name);
    case "unary":
      return findVariable(node.arg, name);
    case "binary":
      return findVariable(node.left, name) ?? findVariable(node.right, name);
    case "call":
      for (const a of node.args) {
        const found = findVariable(a, name);
        if (found) return found;
      }
      return undefined;
  }
}
