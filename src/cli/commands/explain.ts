/**
 * `chainrule explain "(x+y)*z" --x -2 --y 5 --z -4 [--svg out.svg]`: builds a scalar expression
 * as a chainrule graph and prints its backward pass gate by gate, in the lecture's words; with
 * --svg it also draws the graph with the forward values (green) and gradients (red).
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { viz } from "../../index.js";
import { CliError, UsageError, checkWritableFile, parsePositiveInt, type CliIO } from "../common.js";
import type { CliCommand } from "./index.js";

export interface ExplainCommandOptions {
  svg?: string;
  digits?: number;
}

/**
 * Splits the words after `explain` (commander leaves the variables, unknown options, here) into
 * the expression and the variable values: `--x -2`, `--x=-2` or `x=-2`. Negative numbers are
 * values, never options.
 */
export function parseExplainArgs(args: readonly string[]): { expression: string; values: Record<string, number> } {
  const values: Record<string, number> = {};
  const positional: string[] = [];
  const setValue = (name: string, raw: string | undefined, shown: string): void => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      const cut = (s: string): string => (s.length <= 40 ? s : `${s.slice(0, 40)}… (${s.length} characters)`);
      throw new UsageError(
        `${cut(shown)}: "${cut(name)}" is not a variable name (letters, digits and _, starting with a letter).${name.startsWith("-") ? " A word starting with -- reads as an option: write the expression as -(-x) instead." : ""}`,
      );
    }
    if (raw === undefined) throw new UsageError(`${shown} needs a value, e.g. --${name} -2`);
    const v = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new UsageError(`${shown}: expected a number, got "${raw}".`);
    if (name in values) throw new UsageError(`the variable '${name}' is given twice.`);
    values[name] = v;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const long = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (long) {
      if (long[2] !== undefined) setValue(long[1]!, long[2], `--${long[1]}`);
      else setValue(long[1]!, args[++i], `--${long[1]}`);
      continue;
    }
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(arg);
    if (assignment) {
      setValue(assignment[1]!, assignment[2], arg);
      continue;
    }
    positional.push(arg);
  }
  if (positional.length === 0) throw new UsageError(`give the expression to explain, e.g. chainrule explain "(x+y)*z" --x -2 --y 5 --z -4`);
  if (positional.length > 1) throw new UsageError(`expected one expression, got ${positional.length}: ${positional.map((p) => `"${p}"`).join(", ")}; quote the expression, and give variables as --x -2.`);
  return { expression: positional[0]!, values };
}

/** Runs the command; returns the explanation text. */
export async function explainAction(args: readonly string[], opts: ExplainCommandOptions, io: CliIO): Promise<string> {
  const { expression, values } = parseExplainArgs(args);
  if (opts.svg !== undefined) checkWritableFile("--svg", opts.svg);
  let built: viz.BuiltExpression;
  try {
    const parsed = viz.parseExpression(expression);
    built = viz.buildExpression(parsed, values);
  } catch (error) {
    if (error instanceof viz.ExpressionError) {
      const missing = /^missing value for variable '(.+)'$/.exec(error.reason);
      throw new UsageError(`${error.message}${missing ? `\n(give it as --${missing[1]} <number>)` : ""}`);
    }
    if (error instanceof Error && /^unknown variable/.test(error.message)) throw new UsageError(error.message);
    throw error;
  }
  const text = viz.explain(built.output, opts.digits !== undefined ? { digits: opts.digits } : {});
  io.out(`f = ${expression}\n${text}`);
  if (opts.svg !== undefined) {
    const svg = await viz.toSvg(built.output, { title: `f = ${expression}`, ...(opts.digits !== undefined ? { digits: opts.digits } : {}) });
    try {
      writeFileSync(opts.svg, svg);
    } catch (error) {
      throw new CliError(`--svg: cannot write ${opts.svg}: ${error instanceof Error ? error.message : String(error)}`);
    }
    io.out(`wrote ${opts.svg}\n`);
  }
  return text;
}

export const explainCommand: CliCommand = {
  name: "explain",
  register(program: Command, io: CliIO): void {
    program
      .command("explain")
      .summary("explain the backward pass of a formula, gate by gate")
      .description(
        "Builds a scalar formula as a computational graph and prints its backward pass one gate at a time, in the " +
          "lecture's words: upstream gradient × local gradient → downstream gradients (add distributes, max routes, " +
          "mul swaps, a value used twice sums its gradients). Give every variable as an option: --x -2 (or x=-2). " +
          "The formula: numbers, variables, + - * / ^ (× ÷ too), parentheses, exp log sigmoid tanh relu max(a,b) min(a,b).\n\n" +
          'Example: chainrule explain "(x+y)*z" --x -2 --y 5 --z -4 --svg circuit.svg',
      )
      .argument("<expression>", 'the formula, quoted: "(x+y)*z"')
      .option("--svg <file>", "also draw the graph, with values and gradients, as SVG")
      .option("--digits <n>", "decimals of the printed numbers", parsePositiveInt)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(async (_expression: string, opts: ExplainCommandOptions, cmd: Command) => {
        await explainAction(cmd.args, opts, io);
      });
  },
};
