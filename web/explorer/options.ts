/**
 * The explorer's URL parameters, so any page can embed it in an iframe:
 * `explorer.html?expr=(x%2By)*z&x=-2&y=5&z=-4&embed=1`. `expr` an expression, `example` a
 * lecture example id, `h` the finite-difference step, `digits` the decimals (0–9), `embed=1` hides the
 * site header and the introduction; every other parameter is an input's value.
 */
import type { ExplorerOptions } from "./explorer.js";

const RESERVED = new Set(["expr", "example", "h", "digits", "embed"]);

/** ExplorerOptions from a query string ("?expr=…&x=-2"). Non-numeric input values are NaN (the library reports them). */
export function optionsFromUrl(search: string): ExplorerOptions {
  const params = new URLSearchParams(search);
  const options: ExplorerOptions = {};
  const expr = params.get("expr");
  if (expr !== null) options.expression = expr;
  const example = params.get("example");
  if (example !== null) options.example = example;
  const h = params.get("h");
  if (h !== null) options.h = Number(h);
  const digits = params.get("digits");
  if (digits !== null && /^\d$/.test(digits)) options.digits = Number(digits);
  if (params.get("embed") === "1") options.intro = false;
  const values: Record<string, number> = {};
  for (const [name, value] of params) if (!RESERVED.has(name)) values[name] = Number(value);
  if (Object.keys(values).length > 0) options.values = values;
  return options;
}
