// Bad input, table by table (issue 15, "Nothing lost, nothing silent"): every row feeds one bad
// input and names the error it must get (a chainrule error class, or the CLI's exit code: 2 for
// usage, 1 for failure) and the words its message must contain: the op or option, the argument,
// the shapes or the value, and what to do. Adding a case is adding a row.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import {
  AnomalyError,
  ChainruleError,
  DTypeError,
  DataError,
  FormatError,
  GraphError,
  IndexError,
  ShapeError,
  Tensor,
  Trainer,
  ValueError,
  adaptiveAvgPool2d,
  arange,
  avgPool2d,
  backendReady,
  concat,
  conv2d,
  data,
  detectAnomaly,
  eye,
  full,
  linspace,
  manualSeed,
  matmul,
  maxPool2d,
  maximum,
  models,
  nn,
  onnx,
  ones,
  optim,
  rand,
  randint,
  randn,
  serialize,
  setBackend,
  setDetectAnomaly,
  stack,
  tensor,
  where,
  zeros,
} from "../src/node.js";

const F = nn.functional;
const i32 = (values: number | number[] | number[][]): Tensor => tensor(values, { dtype: "int32" });
const scores = (): Tensor => tensor([[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4], [0, 0, 0, 0]]); // [3, 4]: N = 3, C = 4
const req = (shape: number[]): Tensor => randn(shape, { requiresGrad: true });

type ErrorClass = abstract new (...args: never[]) => Error;
type Words = readonly (string | RegExp)[];

/** One library row: what it feeds, the error class it must throw, the words of the message. */
type Row = readonly [what: string, feed: () => unknown, error: ErrorClass, words: Words | (() => Words)];

/** The error `feed` throws (or its promise rejects with); fails the row when there is none. */
async function caught(feed: () => unknown): Promise<unknown> {
  let value: unknown;
  try {
    value = feed();
    if (value instanceof Promise) await value;
  } catch (error) {
    return error;
  }
  const shown = value instanceof Tensor ? `a tensor of shape [${value.shape.join(", ")}] (${value.dtype})` : JSON.stringify(value)?.slice(0, 80);
  throw new Error(`no error: it returned ${shown}`);
}

function has(text: string, word: string | RegExp): boolean {
  return typeof word === "string" ? text.includes(word) : word.test(text);
}

function table(rows: readonly Row[]): void {
  it.each(rows.map((r) => [r[0], r] as const))("%s", async (_what, [, feed, error, words]) => {
    const e = await caught(feed);
    // Never a TypeError or RangeError from deep inside: a chainrule error of the stated class.
    expect(e, String(e)).toBeInstanceOf(ChainruleError);
    expect(e, String(e)).toBeInstanceOf(error);
    const message = (e as Error).message;
    for (const w of typeof words === "function" ? words() : words) expect(has(message, w), `${JSON.stringify(message)} should contain ${String(w)}`).toBe(true);
  });
}

// ================================================================== tensor creation

describe("tensor creation", () => {
  table([
    ["ragged nested lists", () => tensor([[1, 2], [3]]), ShapeError, ["tensor", "ragged", "[1]", "1 elements", "expected 2 like its siblings"]],
    ["a scalar among lists", () => tensor([[1, 2], 3] as never), ShapeError, ["tensor", "ragged", "[1]", "no elements", "expected 2"]],
    ["ragged at depth 2", () => tensor([[[1], [2]], [[3]]]), ShapeError, ["tensor", "ragged", "[1]", "expected 2"]],
    ["a string element", () => tensor([1, "a"] as never), DTypeError, ["tensor", "[1]", "string", "only numbers and booleans"]],
    ["undefined as data", () => tensor(undefined as never), DTypeError, ["tensor", "undefined", "only numbers and booleans"]],
    ["a flat list that does not fill the shape", () => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, ["tensor", "3 values", "[2, 2]", "4 elements"]],
    ["a typed array that does not fill the shape", () => tensor(new Float32Array(5), { shape: [2, 2] }), ShapeError, ["tensor", "5 values", "[2, 2]", "4 elements"]],
    ["a nested list reshaped to the wrong size", () => tensor([[1, 2], [3, 4]], { shape: [3] }), ShapeError, ["tensor", "4 values", "[3]"]],
    ["NaN in int32", () => tensor([1, NaN], { dtype: "int32" }), ValueError, ["tensor", "element at [1]", "NaN", "int32", "keep a float dtype"]],
    ["Infinity in int32", () => tensor([[1, 2], [3, Infinity]], { dtype: "int32" }), ValueError, ["tensor", "[1, 1]", "Infinity", "int32", "Fix or drop that value"]],
    ["-Infinity in int32", () => tensor([-Infinity], { dtype: "int32" }), ValueError, ["tensor", "[0]", "-Infinity", "int32"]],
    ["a number beyond int32's range", () => tensor([3e9], { dtype: "int32" }), ValueError, ["tensor", "3000000000", "int32's range", "2147483647"]],
    ["a 0-d NaN in int32", () => tensor(NaN, { dtype: "int32" }), ValueError, ["tensor", "the value is NaN", "int32"]],
    ["NaN in a Float32Array stored as int32", () => tensor(new Float32Array([1, NaN]), { dtype: "int32" }), ValueError, ["tensor", "data[1]", "NaN", "int32"]],
    ["a Uint32Array value beyond int32", () => tensor(new Uint32Array([4e9]), { dtype: "int32" }), ValueError, ["tensor", "data[0]", "4000000000", "range"]],
    ["NaN as bool", () => tensor([0, NaN], { dtype: "bool" }), ValueError, ["tensor", "[1]", "NaN", "neither true nor false", "bool", "Replace the NaN"]],
    ["NaN in a Float64Array stored as bool", () => tensor(new Float64Array([NaN]), { dtype: "bool" }), ValueError, ["tensor", "data[0]", "NaN", "bool"]],
    ["full: NaN in int32", () => full([2], NaN, { dtype: "int32" }), ValueError, ["full", "fill value", "NaN", "int32", "float dtype"]],
    ["full: Infinity in int32", () => full([2, 2], Infinity, { dtype: "int32" }), ValueError, ["full", "fill value", "Infinity", "int32"]],
    ["full: NaN as bool", () => full([3], NaN, { dtype: "bool" }), ValueError, ["full", "NaN", "bool"]],
    ["full: a value that is not a number", () => full([2], "1" as never), ValueError, ["full", "fill value", "number", "string"]],
    ["tensor: an unknown dtype", () => tensor([1], { dtype: "float16" as never }), DTypeError, ["tensor", '"float16"', "bool, int32, float32, float64"]],
    ["zeros: an unknown dtype", () => zeros([1], { dtype: "int64" as never }), DTypeError, ["zeros", '"int64"', "use one of"]],
    ["ones: an unknown dtype", () => ones([1], { dtype: "uint8" as never }), DTypeError, ["ones", '"uint8"', "use one of"]],
    ["randn in int32", () => randn([2], { dtype: "int32" }), DTypeError, ["randn", "int32", "float32 or float64", "use randint"]],
    ["rand with an unknown dtype", () => rand([2], { dtype: "half" as never }), DTypeError, ["rand", '"half"', "use one of"]],
    ["to() an unknown dtype", () => zeros([2]).to("int64" as never), DTypeError, ["to", '"int64"', "use one of"]],
    ["zeros: a negative size", () => zeros([-1, 2]), ShapeError, ["zeros", "[-1, 2]", "non-negative integers"]],
    ["zeros: a fractional size", () => zeros([1.5]), ShapeError, ["zeros", "[1.5]", "non-negative integers"]],
    ["ones: a NaN size", () => ones([NaN]), ShapeError, ["ones", "[NaN]", "non-negative integers"]],
    ["full: a negative size", () => full([-2], 1), ShapeError, ["full", "[-2]", "non-negative integers"]],
    ["randn: a negative size", () => randn([2, -3]), ShapeError, ["randn", "[2, -3]", "non-negative integers"]],
    ["rand: a fractional size", () => rand([2.5]), ShapeError, ["rand", "[2.5]", "non-negative integers"]],
    ["randint: a negative size", () => randint(0, 5, [-1]), ShapeError, ["randint", "[-1]", "non-negative integers"]],
    ["zeros: a number instead of a shape", () => zeros(5 as never), ShapeError, ["zeros", "array of non-negative integers", "got 5", "write zeros([5])"]],
    ["zeros: more elements than a tensor holds", () => zeros([1e5, 1e5]), ShapeError, ["zeros", "[100000, 100000]", "10000000000 elements", "smaller shape"]],
    ["tensor: a negative size in the shape option", () => tensor([1, 2], { shape: [-2] }), ShapeError, ["tensor", "[-2]", "non-negative integers"]],
    ["arange: step 0", () => arange(0, 5, 0), ValueError, ["arange", "step", "non-zero finite number", "got 0"]],
    ["arange: a NaN end", () => arange(NaN), ValueError, ["arange", "end NaN", "finite numbers"]],
    ["arange: an infinite end", () => arange(0, Infinity), ValueError, ["arange", "end Infinity", "finite numbers"]],
    ["arange: more values than a tensor holds", () => arange(0, 1e12), ValueError, ["arange", "1000000000000 values", "larger step or a smaller range"]],
    ["arange: a fractional step in int32", () => arange(0, 1, 0.25, { dtype: "int32" }), ValueError, ["arange", "int32", "step 0.25", "use a float dtype"]],
    ["linspace: negative steps", () => linspace(0, 1, -1), ValueError, ["linspace", "steps", "non-negative integer", "-1"]],
    ["linspace: fractional steps", () => linspace(0, 1, 2.5), ValueError, ["linspace", "steps", "2.5"]],
    ["linspace: a NaN start", () => linspace(NaN, 1, 3), ValueError, ["linspace", "start NaN", "finite numbers"]],
    ["eye: a negative size", () => eye(-1), ValueError, ["eye", "n", "rows", "non-negative integer", "-1"]],
    ["eye: a fractional size", () => eye(2.5), ValueError, ["eye", "n", "2.5"]],
    ["eye: negative columns", () => eye(2, -3), ValueError, ["eye", "m", "columns", "-3"]],
    ["randint: an empty range", () => randint(5, 5, [2]), ValueError, ["randint", "low < high", "[5, 5)"]],
    ["randint: fractional bounds", () => randint(0.5, 3.5, [2]), ValueError, ["randint", "integers", "[0.5, 3.5)"]],
    ["requiresGrad on int32", () => tensor([1], { dtype: "int32", requiresGrad: true }), GraphError, ["requiresGrad", "int32", "float32/float64", 'x.to("float32")']],
  ]);
});

// ================================================================== shapes

describe("shapes", () => {
  table([
    ["add: shapes that do not broadcast", () => zeros([2, 3]).add(zeros([4])), ShapeError, ["add", "[2, 3]", "[4]", "cannot be broadcast", "axis -1 has sizes 3 and 4", "Reshape or unsqueeze"]],
    ["mul: transposed shapes", () => zeros([2, 3]).mul(zeros([3, 2])), ShapeError, ["mul", "[2, 3]", "[3, 2]", "axis -2", "Reshape or unsqueeze"]],
    ["sub: a trailing size mismatch", () => zeros([2, 3]).sub(zeros([2, 2])), ShapeError, ["sub", "[2, 3]", "[2, 2]", "cannot be broadcast"]],
    ["div: batch axes that differ", () => zeros([4, 1, 3]).div(zeros([5, 2, 3])), ShapeError, ["div", "[4, 1, 3]", "[5, 2, 3]", "axis -3"]],
    ["maximum: shapes that do not broadcast", () => maximum(zeros([3]), zeros([2])), ShapeError, ["maximum", "[3]", "[2]", "cannot be broadcast"]],
    ["where: a mask of another length", () => where(tensor([true, false]), zeros([3]), zeros([3])), ShapeError, ["where", "[2]", "[3]", "cannot be broadcast"]],
    ["add: a plain array", () => zeros([2]).add([1, 2] as never), ValueError, ["add", "'b'", "an array", "Wrap data with tensor(...)"]],
    ["add: null", () => zeros([2]).add(null as never), ValueError, ["add", "'b'", "null", "tensor(...)"]],
    ["add: a number too large for an int32 tensor", () => zeros([2], { dtype: "int32" }).add(1e10), DTypeError, ["add", "10000000000", "int32", 'x.to("float64")']],
    ["matmul: 1-D vectors of different lengths", () => matmul(zeros([3]), zeros([4])), ShapeError, ["matmul", "[3]", "[4]", "k = 3", "k = 4", "transpose one operand"]],
    ["matmul: 2-D inner sizes", () => matmul(zeros([2, 3]), zeros([4, 5])), ShapeError, ["matmul", "[2, 3]", "[4, 5]", "k = 3", "k = 4", "second-to-last axis of b"]],
    ["matmul: matrix times a vector of the wrong length", () => matmul(zeros([2, 3]), zeros([2])), ShapeError, ["matmul", "[2, 3]", "[2]", "inner dimensions differ"]],
    ["matmul: batched inner sizes", () => matmul(zeros([2, 2, 3]), zeros([2, 4, 5])), ShapeError, ["matmul", "[2, 2, 3]", "[2, 4, 5]", "k = 3", "k = 4"]],
    ["matmul: batch axes that do not broadcast", () => matmul(zeros([2, 2, 3]), zeros([3, 3, 5])), ShapeError, ["matmul (batch axes)", "[2]", "[3]", "cannot be broadcast"]],
    ["matmul: transB with the wrong layout", () => matmul(zeros([2, 3]), zeros([3, 4]), { transB: true }), ShapeError, ["matmul", "bᵀ", "[3, 4]", "k = 4"]],
    ["matmul: a 0-d operand", () => matmul(tensor(1), zeros([2])), ShapeError, ["matmul", "at least 1 dimension", "[]", "use mul for scalars"]],
    ["matmul: a plain array", () => matmul([1, 2] as never, zeros([2])), ValueError, ["matmul", "'a'", "an array", "tensor(...)"]],
    ["sum: axis past the end", () => zeros([2, 3]).sum({ axis: 2 }), IndexError, ["sum", "axis 2", "2 dimensions", "valid: [-2, 1]"]],
    ["sum: a negative axis past the start", () => zeros([2, 3]).sum({ axis: -3 }), IndexError, ["sum", "axis -3", "valid: [-2, 1]"]],
    ["sum: a fractional axis", () => zeros([2, 3]).sum({ axis: 1.5 }), IndexError, ["sum", "axis 1.5", "valid"]],
    ["sum: an axis listed twice", () => zeros([2, 3]).sum({ axis: [1, -1] }), ValueError, ["sum", "[1,-1]", "repeats an axis", "list each axis once"]],
    ["sum: a 0-d tensor has no axis 0", () => tensor(1).sum({ axis: 0 }), IndexError, ["sum", "axis 0", "0-d"]],
    ["mean: axis 5", () => zeros([2, 3]).mean({ axis: 5 }), IndexError, ["mean", "axis 5", "valid: [-2, 1]"]],
    ["mean: axis -4", () => zeros([2, 3, 4]).mean({ axis: -4 }), IndexError, ["mean", "axis -4", "3 dimensions", "valid: [-3, 2]"]],
    ["max: axis 2", () => zeros([2, 3]).max({ axis: 2 }), IndexError, ["max", "axis 2", "valid: [-2, 1]"]],
    ["min: axis -3", () => zeros([2, 3]).min({ axis: -3 }), IndexError, ["min", "axis -3"]],
    ["max of an empty tensor", () => zeros([0]).max(), IndexError, ["max", "empty tensor", "[0]", "no maximum"]],
    ["argmax: axis 2", () => zeros([2, 3]).argmax({ axis: 2 }), IndexError, ["argmax", "axis 2", "valid: [-2, 1]"]],
    ["argmin: axis -3", () => zeros([2, 3]).argmin({ axis: -3 }), IndexError, ["argmin", "axis -3"]],
    ["logsumexp: axis 3", () => zeros([2, 3]).logsumexp({ axis: 3 }), IndexError, ["logsumexp", "axis 3"]],
    ["var: axis 2", () => zeros([2, 3]).var({ axis: 2 }), IndexError, ["var", "axis 2"]],
    ["softmax: axis 2", () => zeros([2, 3]).softmax(2), IndexError, ["softmax", "axis 2", "valid: [-2, 1]"]],
    ["logSoftmax: axis -3", () => zeros([2, 3]).logSoftmax(-3), IndexError, ["logSoftmax", "axis -3"]],
    ["reshape to another element count", () => zeros([2, 3]).reshape([4, 2]), ShapeError, ["reshape", "[2, 3] (6 elements)", "[4, 2] (8 elements)", "element counts must match"]],
    ["reshape with two -1", () => zeros([2, 3]).reshape([-1, -1]), ShapeError, ["reshape", "only one dimension can be -1", "[-1, -1]"]],
    ["reshape: no size fits the -1", () => zeros([2, 3]).reshape([-1, 4]), ShapeError, ["reshape", "[2, 3]", "[-1, 4]", "not a multiple of 4", "Pick sizes"]],
    ["reshape to negative sizes", () => zeros([2, 3]).reshape([-2, -3]), ShapeError, ["reshape", "[-2, -3]", "non-negative integers and at most one -1"]],
    ["view to another element count", () => zeros([6]).view([5]), ShapeError, ["reshape", "[6]", "[5]", "must match"]],
    ["permute: a repeated dim", () => zeros([2, 3]).permute([0, 0]), ShapeError, ["permute", "[0, 0]", "[2, 3]", "each of the 2 axes", "exactly once"]],
    ["permute: a missing dim", () => zeros([2, 3, 4]).permute([0, 1]), ShapeError, ["permute", "[0, 1]", "[2, 3, 4]", "exactly once"]],
    ["permute: a dim out of range", () => zeros([2, 3]).permute([0, 2]), IndexError, ["permute", "axis 2", "valid: [-2, 1]"]],
    ["transpose: an axis out of range", () => zeros([2, 3]).transpose(0, 2), IndexError, ["transpose", "axis 2", "valid"]],
    ["flatten: startDim after endDim", () => zeros([2, 3, 4]).flatten(2, 1), IndexError, ["flatten", "startDim (2)", "endDim (1)"]],
    ["squeeze: an axis that is not size 1", () => zeros([2, 3]).squeeze(0), ShapeError, ["squeeze", "axis 0", "[2, 3]", "size 2, not 1", "only size-1 axes"]],
    ["unsqueeze: past the end", () => zeros([2, 3]).unsqueeze(4), IndexError, ["unsqueeze", "axis 4", "valid: [-3, 2]"]],
    ["expand to an incompatible shape", () => zeros([2, 3]).expand([4, 3]), ShapeError, ["expand", "[2, 3]", "[4, 3]", "match or have size 1"]],
    ["slice: an axis out of range", () => zeros([2, 3]).slice(2, 0, 1), IndexError, ["slice", "axis 2", "valid: [-2, 1]"]],
    ["slice: step 0", () => zeros([2, 3]).slice(0, 0, 1, 0), ValueError, ["slice", "step", "positive integer", "got 0"]],
    ["narrow: past the end of the axis", () => zeros([2, 3]).narrow(1, 2, 5), IndexError, ["narrow", "[2, 7)", "axis 1", "[2, 3]", "start + length ≤ 3"]],
    ["narrow: a negative start", () => zeros([2, 3]).narrow(1, -1, 1), IndexError, ["narrow", "[-1, 0)", "start must be ≥ 0"]],
    ["narrow: an axis out of range", () => zeros([2, 3]).narrow(3, 0, 1), IndexError, ["narrow", "axis 3", "valid"]],
    ["split: sizes that do not add up", () => zeros([5]).split([2, 2]), ShapeError, ["split", "[2, 2]", "summing to 5", "[5]"]],
    ["gather: an index past the axis", () => zeros([2, 3]).gather(1, i32([[0], [3]])), IndexError, ["gather", "index 3", "axis 1 of size 3", "[2, 3]", "valid indices are 0…2"]],
    ["gather: a negative index", () => zeros([2, 3]).gather(1, i32([[0], [-1]])), IndexError, ["gather", "index -1", "valid indices are 0…2"]],
    ["gather: a float index", () => zeros([2, 3]).gather(1, tensor([[0], [1]])), DTypeError, ["gather", "int32", "float32", '{ dtype: "int32" }']],
    ["gather: an index of the wrong shape", () => zeros([2, 3]).gather(1, i32([[0, 1, 2]])), ShapeError, ["gather", "[1, 3]", "[2, 3]", "every axis except 1"]],
    ["indexSelect: an index past the axis", () => zeros([2, 3]).indexSelect(0, [0, 2]), IndexError, ["indexSelect", "index 2", "axis 0 of size 2", "valid indices are 0…1"]],
    ["indexSelect: a negative index", () => zeros([2, 3]).indexSelect(1, i32([-1])), IndexError, ["indexSelect", "index -1", "0…2"]],
    ["indexSelect: a fractional index in a list", () => zeros([2, 3]).indexSelect(0, [0.5]), IndexError, ["indexSelect", "index[0]", "0.5", "not an integer", "whole numbers"]],
    ["indexSelect: NaN in a list", () => zeros([2, 3]).indexSelect(0, [0, NaN]), IndexError, ["indexSelect", "index[1]", "NaN"]],
    ["indexSelect: a 2-D index", () => zeros([2, 3]).indexSelect(0, i32([[0]])), ShapeError, ["indexSelect", "0-d or 1-D", "[1, 1]", "flatten it"]],
    ["concat: shapes that differ off the axis", () => concat([zeros([2, 3]), zeros([2, 4])]), ShapeError, ["concat", "tensors[1]", "[2, 4]", "[2, 3]", "except the concat axis 0"]],
    ["concat: two dtypes", () => concat([zeros([2]), zeros([2], { dtype: "int32" })]), DTypeError, ["concat", "float32", "int32", "cast with .to(dtype)"]],
    ["concat: an empty list", () => concat([]), ValueError, ["concat", "non-empty list"]],
    ["stack: unequal shapes", () => stack([zeros([2, 3]), zeros([3, 2])]), ShapeError, ["stack", "tensors[1]", "[3, 2]", "[2, 3]", "equal shapes"]],
    ["pad: a negative amount", () => zeros([2]).pad([[-1, 0]]), ValueError, ["pad", "non-negative integers", "[[-1,0]]"]],
    ["pad: more pairs than axes", () => zeros([2]).pad([[1, 0], [1, 1]]), ShapeError, ["pad", "2 [before, after] pairs", "1 axes", "[2]"]],
    ["item() of 6 elements", () => zeros([2, 3]).item(), ShapeError, ["item", "exactly one element", "[2, 3]", "6 elements", "Reduce it first (e.g. .sum())"]],
    ["item() of an empty tensor", () => zeros([0]).item(), ShapeError, ["item", "[0]", "0 elements", "toArray()"]],
    ["backward() of a non-scalar without a gradient", () => req([3]).mul(2).backward(), GraphError, ["backward", "without a gradient", "[3]", "scalar", ".sum()", "y.backward(gradOut)"]],
    ["backward() of a tensor without a graph", () => randn([3]).sum().backward(), GraphError, ["backward", "does not require grad", "{ requiresGrad: true }", "noGrad()"]],
    [
      "backward() twice without retainGraph",
      () => {
        const x = req([3]);
        const y = x.mul(x).sum();
        y.backward();
        y.backward();
      },
      GraphError,
      ["backward", "already released", "retainGraph: true", "recompute the forward pass"],
    ],
    ["backward() with a gradient of the wrong shape", () => req([3]).mul(2).backward(zeros([4])), ShapeError, ["backward", "gradient", "[4]", "[3]", "must match"]],
    ["requiresGrad off on a computed tensor", () => (req([2]).mul(2).requiresGrad = false), GraphError, ["requiresGrad", "'mul'", "x.detach()"]],
  ]);
});

// ================================================================== losses

describe("losses (src/nn/functional/losses.ts)", () => {
  table([
    ["crossEntropy: a label past the classes", () => F.crossEntropy(scores(), i32([0, 4, 1])), IndexError, ["crossEntropy", "labels[1] = 4", "C = 4 classes", "[3, 4]", "in [0, 4)"]],
    ["crossEntropy: a negative label", () => F.crossEntropy(scores(), i32([0, -1, 1])), IndexError, ["crossEntropy", "labels[1] = -1", "[0, 4)", "ignoreIndex (-100)"]],
    ["crossEntropy: float32 labels", () => F.crossEntropy(scores(), tensor([0, 1, 2])), DTypeError, ["crossEntropy", "'labels'", "int32", "float32", 'labels.to("int32")']],
    ["crossEntropy: float64 labels", () => F.crossEntropy(scores(), tensor([0, 1, 2], { dtype: "float64" })), DTypeError, ["crossEntropy", "'labels'", "float64"]],
    ["crossEntropy: labels [N, 1]", () => F.crossEntropy(scores(), i32([[0], [1], [2]])), ShapeError, ["crossEntropy", "[3, 4]", "[3]", "[3, 1]", "labels.reshape([3])"]],
    ["crossEntropy: fewer labels than rows", () => F.crossEntropy(scores(), i32([0, 1])), ShapeError, ["crossEntropy", "[3, 4]", "[2]", "one label per row of logits"]],
    ["crossEntropy: int32 logits", () => F.crossEntropy(i32([[1, 2]]), i32([0])), DTypeError, ["crossEntropy", "'logits'", "int32", 'logits.to("float32")']],
    ["crossEntropy: 0-d logits", () => F.crossEntropy(tensor(1), i32(0)), ShapeError, ["crossEntropy", "'logits'", "[N, C]", "got []"]],
    ["crossEntropy: an unknown reduction", () => F.crossEntropy(scores(), i32([0, 1, 2]), { reduction: "avg" as never }), ValueError, ["crossEntropy", "reduction", '"mean", "sum" or "none"', '"avg"']],
    ["crossEntropy: labelSmoothing 2", () => F.crossEntropy(scores(), i32([0, 1, 2]), { labelSmoothing: 2 }), ValueError, ["crossEntropy", "labelSmoothing", "[0, 1]", "got 2"]],
    ["crossEntropy: a class weight per wrong count", () => F.crossEntropy(scores(), i32([0, 1, 2]), { weight: ones([3]) }), ShapeError, ["crossEntropy", "'weight'", "[4]", "C = 4", "got [3]"]],
    ["crossEntropy: labels as a plain array", () => F.crossEntropy(scores(), [0, 1, 2] as never), ValueError, ["crossEntropy", "'labels'", "an array", "tensor(...)"]],
    ["CrossEntropyLoss module: a label past the classes", () => new nn.CrossEntropyLoss().forward(scores(), i32([5, 0, 0])), IndexError, ["crossEntropy", "labels[0] = 5", "[0, 4)"]],
    ["nllLoss: a label past the classes", () => F.nllLoss(scores(), i32([0, 9, 1])), IndexError, ["nllLoss", "labels[1] = 9", "C = 4", "logProbs shape [3, 4]", "[0, 4)"]],
    ["nllLoss: a negative label", () => F.nllLoss(scores(), i32([0, -2, 1])), IndexError, ["nllLoss", "labels[1] = -2"]],
    ["nllLoss: float labels", () => F.nllLoss(scores(), tensor([0, 1, 1])), DTypeError, ["nllLoss", "'labels'", "int32", "float32"]],
    ["nllLoss: labels of the wrong length", () => F.nllLoss(scores(), i32([0, 1])), ShapeError, ["nllLoss", "'logProbs'", "[3]", "[2]"]],
    ["svmLoss: a label past the classes", () => F.svmLoss(scores(), i32([0, 4, 1])), IndexError, ["svmLoss", "labels[1] = 4", "C = 4", "[0, 4)"]],
    ["svmLoss: a negative label", () => F.svmLoss(scores(), i32([0, -1, 1])), IndexError, ["svmLoss", "labels[1] = -1"]],
    ["svmLoss: float labels", () => F.svmLoss(scores(), tensor([0, 1, 1])), DTypeError, ["svmLoss", "'labels'", "int32"]],
    ["svmLoss: labels of the wrong length", () => F.svmLoss(scores(), i32([0, 1, 1, 2])), ShapeError, ["svmLoss", "'scores'", "[3, 4]", "[4]", "one label per row of scores"]],
    ["svmLoss: 3-D scores", () => F.svmLoss(randn([2, 3, 4]), i32([[0, 1, 1, 0], [0, 1, 1, 0]])), ShapeError, ["svmLoss", "'scores'", "[N, C]", "[2, 3, 4]", "reshape([-1, C])"]],
    ["svmLoss: a NaN margin", () => F.svmLoss(scores(), i32([0, 1, 1]), { margin: NaN }), ValueError, ["svmLoss", "margin", "finite number", "NaN"]],
    ["multiMarginLoss: a label past the classes", () => F.multiMarginLoss(scores(), i32([0, 4, 1])), IndexError, ["multiMarginLoss", "labels[1] = 4", "[0, 4)"]],
    ["multiMarginLoss: a negative label", () => F.multiMarginLoss(scores(), i32([0, -1, 1])), IndexError, ["multiMarginLoss", "labels[1] = -1"]],
    ["multiMarginLoss: float labels", () => F.multiMarginLoss(scores(), tensor([0, 1, 1])), DTypeError, ["multiMarginLoss", "'labels'", "int32"]],
    ["multiMarginLoss: labels [1, N]", () => F.multiMarginLoss(scores(), i32([[0, 1, 1]])), ShapeError, ["multiMarginLoss", "[3]", "[1, 3]"]],
    ["multiMarginLoss: p = 3", () => F.multiMarginLoss(scores(), i32([0, 1, 1]), { p: 3 as never }), ValueError, ["multiMarginLoss", "p must be 1 or 2", "got 3"]],
    ["mseLoss: [N] against [N, 1]", () => F.mseLoss(randn([3]), randn([3, 1])), ShapeError, ["mseLoss", "'input'", "[3]", "'target'", "[3, 1]", "target.reshape([3])"]],
    ["mseLoss: an int32 input", () => F.mseLoss(i32([1, 2]), i32([1, 2])), DTypeError, ["mseLoss", "'input'", "int32", 'input.to("float32")']],
    ["l1Loss: lengths that differ", () => F.l1Loss(randn([3]), randn([4])), ShapeError, ["l1Loss", "[3]", "[4]", "must be equal"]],
    ["smoothL1Loss: a negative beta", () => F.smoothL1Loss(randn([3]), randn([3]), { beta: -1 }), ValueError, ["smoothL1Loss", "beta", "≥ 0", "-1"]],
    ["huberLoss: delta 0", () => F.huberLoss(randn([3]), randn([3]), { delta: 0 }), ValueError, ["huberLoss", "delta", "> 0", "use l1Loss"]],
    ["binaryCrossEntropy: [N] against [N, 1]", () => F.binaryCrossEntropy(tensor([0.5, 0.2]), tensor([[1], [0]])), ShapeError, ["binaryCrossEntropy", "'probs'", "[2]", "[2, 1]", "target.reshape([2])"]],
    ["binaryCrossEntropy: a probability above 1", () => F.binaryCrossEntropy(tensor([0.5, 1.5]), tensor([1, 0])), ValueError, ["binaryCrossEntropy", "probs[1] = 1.5", "[0, 1]", "Apply sigmoid first", "binaryCrossEntropyWithLogits"]],
    ["binaryCrossEntropy: a NaN probability", () => F.binaryCrossEntropy(tensor([NaN, 0.5]), tensor([1, 0])), ValueError, ["binaryCrossEntropy", "probs[0] = NaN"]],
    ["binaryCrossEntropy: int32 targets", () => F.binaryCrossEntropy(tensor([0.5, 0.2]), i32([1, 0])), DTypeError, ["binaryCrossEntropy", "'target'", "int32", 'target.to("float32")']],
    ["binaryCrossEntropyWithLogits: shapes that differ", () => F.binaryCrossEntropyWithLogits(randn([2, 3]), randn([3])), ShapeError, ["binaryCrossEntropyWithLogits", "'x'", "[2, 3]", "'target'", "[3]"]],
    ["binaryCrossEntropyWithLogits: a posWeight that does not broadcast", () => F.binaryCrossEntropyWithLogits(randn([2, 3]), randn([2, 3]), { posWeight: ones([4]) }), ShapeError, ["binaryCrossEntropyWithLogits", "'posWeight'", "[4]", "[2, 3]"]],
    ["l2Regularization: a negative lambda", () => F.l2Regularization([randn([2])], -1), ValueError, ["l2Regularization", "lambda", "-1"]],
  ]);
});

// ================================================================== layers

describe("layers", () => {
  table([
    ["Linear: the wrong number of features", () => new nn.Linear(4, 2).forward(randn([3, 5])), ShapeError, ["Linear", "[..., 4]", "inFeatures = 4", "[3, 5]", "flatten the input"]],
    ["Linear: a 0-d input", () => new nn.Linear(4, 2).forward(tensor(1)), ShapeError, ["Linear", "[..., 4]", "got []"]],
    ["Linear: inFeatures 0", () => new nn.Linear(0, 2), ValueError, ["Linear", "inFeatures", "positive integer", "got 0"]],
    ["Linear: negative outFeatures", () => new nn.Linear(4, -2), ValueError, ["Linear", "outFeatures", "-2"]],
    ["Linear: fractional inFeatures", () => new nn.Linear(4.5, 2), ValueError, ["Linear", "inFeatures", "4.5"]],
    ["Linear: NaN inFeatures", () => new nn.Linear(NaN, 2), ValueError, ["Linear", "inFeatures", "NaN"]],
    ["Sequential: the next layer's size does not fit", () => new nn.Sequential(new nn.Linear(4, 3), new nn.Linear(4, 2)).forward(randn([2, 4])), ShapeError, ["Linear '1'", "[..., 4]", "[2, 3]", "previous layer's output size"]],
    ["Sequential: not a Module", () => new nn.Sequential(5 as never), ValueError, ["Sequential", "argument 0", "not a Module"]],
    ["mlp: one size", () => nn.mlp([4]), ValueError, ["mlp", "input and an output size", "[4]"]],
    ["mlp: a hidden size 0", () => nn.mlp([4, 0, 2]), ValueError, ["Linear", "outFeatures", "got 0"]],
    ["Conv2d: the wrong channel count", () => new nn.Conv2d(3, 4, 3).forward(randn([1, 1, 8, 8])), ShapeError, ["Conv2d", "[N, 3, H, W]", "inChannels = 3", "1 channels", "[1, 1, 8, 8]", "previous layer's output channels"]],
    ["Conv2d: a 2-D input", () => new nn.Conv2d(3, 4, 3).forward(randn([8, 8])), ShapeError, ["Conv2d", "[N, 3, H, W]", "[8, 8]", "x.reshape([-1, 1, 28, 28])"]],
    ["Conv2d: flat features", () => new nn.Conv2d(1, 4, 3).forward(randn([2, 784])), ShapeError, ["Conv2d", "[2, 784]", "reshape flat inputs to images first"]],
    ["Conv2d: a kernel larger than the input", () => new nn.Conv2d(1, 4, 5).forward(randn([1, 1, 3, 3])), ShapeError, ["conv2d", "kernel (5 × 5)", "larger than the padded input", "[1, 1, 3, 3]"]],
    ["Conv2d: kernelSize 0", () => new nn.Conv2d(1, 4, 0), ValueError, ["Conv2d", "kernelSize", "positive integer", "got 0"]],
    ["Conv2d: negative padding", () => new nn.Conv2d(1, 4, 3, { padding: -1 }), ValueError, ["Conv2d", "padding", "non-negative integer", "got -1"]],
    ["Conv2d: stride 0", () => new nn.Conv2d(1, 4, 3, { stride: 0 }), ValueError, ["Conv2d", "stride", "positive integer", "got 0"]],
    ["Conv2d: dilation 0", () => new nn.Conv2d(1, 4, 3, { dilation: 0 }), ValueError, ["Conv2d", "dilation", "got 0"]],
    ["Conv2d: groups that do not divide the channels", () => new nn.Conv2d(4, 4, 3, { groups: 3 }), ValueError, ["Conv2d", "groups", "divides both inChannels (4) and outChannels (4)", "got 3"]],
    ['Conv2d: padding "same" with stride 2', () => new nn.Conv2d(1, 4, 3, { padding: "same", stride: 2 }), ValueError, ["Conv2d", '"same"', "stride 1", "give the padding as a number"]],
    ["Conv2d: an unknown padding word", () => new nn.Conv2d(1, 4, 3, { padding: "full" as never }), ValueError, ["Conv2d", "padding", '"full"']],
    ["Conv2d: inChannels 0", () => new nn.Conv2d(0, 4, 3), ValueError, ["Conv2d", "inChannels", "got 0"]],
    ["BatchNorm1d: the wrong channel count", () => new nn.BatchNorm1d(4).forward(randn([2, 3])), ShapeError, ["BatchNorm1d", "[N, 4]", "[N, 4, L]", "[2, 3]"]],
    ["BatchNorm1d: images", () => new nn.BatchNorm1d(4).forward(randn([2, 4, 2, 2])), ShapeError, ["BatchNorm1d", "[2, 4, 2, 2]", "use BatchNorm2d"]],
    ["BatchNorm2d: the wrong channel count", () => new nn.BatchNorm2d(4).forward(randn([2, 3, 2, 2])), ShapeError, ["BatchNorm2d", "[N, 4, H, W]", "[2, 3, 2, 2]"]],
    ["BatchNorm2d: features [N, C]", () => new nn.BatchNorm2d(4).forward(randn([2, 4])), ShapeError, ["BatchNorm2d", "[2, 4]", "use BatchNorm1d"]],
    ["BatchNorm2d: one unbatched image", () => new nn.BatchNorm2d(4).forward(randn([4, 2, 2])), ShapeError, ["BatchNorm2d", "[4, 2, 2]"]],
    ["BatchNorm2d: numFeatures 0", () => new nn.BatchNorm2d(0), ValueError, ["BatchNorm2d", "numFeatures", "positive integer", "got 0"]],
    ["BatchNorm2d: a negative eps", () => new nn.BatchNorm2d(2, { eps: -1 }), ValueError, ["BatchNorm2d", "eps", "≥ 0", "-1"]],
    ["BatchNorm2d: momentum 2", () => new nn.BatchNorm2d(2, { momentum: 2 }), ValueError, ["BatchNorm2d", "momentum", "[0, 1]", "got 2"]],
    ["BatchNorm1d: training on a batch of 1", () => new nn.BatchNorm1d(2).forward(randn([1, 2])), ValueError, ["batchNorm", "more than 1 value per channel", "[1, 2]", "larger batch, or training: false"]],
    ["LayerNorm: the wrong trailing shape", () => new nn.LayerNorm([4]).forward(randn([2, 3])), ShapeError, ["LayerNorm", "ending in [4]", "[2, 3]"]],
    ["GroupNorm: groups that do not divide the channels", () => new nn.GroupNorm(3, 4), ValueError, ["GroupNorm", "numGroups (3)", "numChannels (4)"]],
    ["GroupNorm: the wrong channel count", () => new nn.GroupNorm(2, 4).forward(randn([2, 3, 2])), ShapeError, ["GroupNorm", "[N, 4, *]", "[2, 3, 2]"]],
    ["MaxPool2d: kernelSize 0", () => new nn.MaxPool2d(0), ValueError, ["MaxPool2d", "kernelSize", "positive integer", "got 0"]],
    ["MaxPool2d: stride 0", () => new nn.MaxPool2d(2, { stride: 0 }), ValueError, ["MaxPool2d", "stride", "got 0"]],
    ["MaxPool2d: negative padding", () => new nn.MaxPool2d(2, { padding: -1 }), ValueError, ["MaxPool2d", "padding", "non-negative", "got -1"]],
    ["MaxPool2d: padding above half the kernel", () => new nn.MaxPool2d(2, { padding: 2 }), ValueError, ["MaxPool2d", "padding", "half the kernel size", "[2, 2]", "padding ≤ 1"]],
    ["MaxPool2d: a 2-D input", () => new nn.MaxPool2d(2).forward(randn([4, 4])), ShapeError, ["maxPool2d", "[N, C, H, W]", "[4, 4]"]],
    ["MaxPool2d: a window larger than the input", () => new nn.MaxPool2d(5).forward(randn([1, 1, 3, 3])), ShapeError, ["maxPool2d", "window (5 × 5)", "larger than the padded input", "[1, 1, 3, 3]"]],
    ["AvgPool2d: kernelSize 0", () => new nn.AvgPool2d(0), ValueError, ["AvgPool2d", "kernelSize", "got 0"]],
    ["AvgPool2d: padding above half the kernel", () => new nn.AvgPool2d([2, 4], { padding: [1, 3] }), ValueError, ["AvgPool2d", "half the kernel size", "[1, 3]", "[2, 4]", "padding ≤ 1, 2"]],
    ["AvgPool2d: a 5-D input", () => new nn.AvgPool2d(2).forward(randn([1, 1, 1, 4, 4])), ShapeError, ["avgPool2d", "[N, C, H, W]", "[1, 1, 1, 4, 4]"]],
    ["AdaptiveAvgPool2d: outputSize 0", () => new nn.AdaptiveAvgPool2d(0), ValueError, ["AdaptiveAvgPool2d", "outputSize", "positive integer", "got 0"]],
    ["AdaptiveAvgPool2d: a 2-D input", () => new nn.AdaptiveAvgPool2d(1).forward(randn([4, 4])), ShapeError, ["adaptiveAvgPool2d", "[N, C, H, W]", "[4, 4]"]],
    ["Dropout: p 2", () => new nn.Dropout(2), ValueError, ["Dropout", "p", "[0, 1]", "got 2"]],
    ["Dropout: p NaN", () => new nn.Dropout(NaN), ValueError, ["Dropout", "p", "NaN"]],
    ["Embedding: an index past the table", () => new nn.Embedding(3, 2).forward(i32([3])), ShapeError, ["Embedding", "index 3", "table of 3 embeddings", "valid indices are 0…2"]],
    ["Embedding: a negative index", () => new nn.Embedding(3, 2).forward(i32([-1])), ShapeError, ["Embedding", "index -1", "0…2"]],
    ["Embedding: float indices", () => new nn.Embedding(3, 2).forward(tensor([1])), DTypeError, ["Embedding", "int32", "float32", '{ dtype: "int32" }']],
    ["Embedding: numEmbeddings 0", () => new nn.Embedding(0, 2), ValueError, ["Embedding", "numEmbeddings", "positive integer", "got 0"]],
    ["Embedding: a negative embeddingDim", () => new nn.Embedding(3, -2), ValueError, ["Embedding", "embeddingDim", "-2"]],
    ["Flatten: startDim out of range", () => new nn.Flatten(3).forward(randn([2, 3])), IndexError, ["flatten", "axis 3", "valid: [-2, 1]"]],
    ["Unflatten: sizes that do not fit", () => new nn.Unflatten(1, [2, 2]).forward(randn([2, 3])), ShapeError, ["Unflatten", "axis 1", "[2, 3]", "3 elements", "[2, 2]"]],
    ["Maxout: pieces 0", () => new nn.Maxout(4, 2, 0), ValueError, ["Maxout", "pieces", "positive integer", "got 0"]],
  ]);
});

// ================================================================== conv2d and pools (src/ops/conv.ts)

describe("conv2d and pools", () => {
  const x = (): Tensor => randn([1, 1, 4, 4]);
  const w = (): Tensor => randn([1, 1, 3, 3]);
  table([
    ["conv2d: a 3-D weight", () => conv2d(x(), randn([1, 3, 3])), ShapeError, ["conv2d", "[outChannels, inChannels / groups, kH, kW]", "[1, 3, 3]", "[1, 1, 4, 4]"]],
    ["conv2d: channels that differ", () => conv2d(randn([1, 2, 4, 4]), randn([1, 3, 3, 3])), ShapeError, ["conv2d", "2 channels", "[1, 2, 4, 4]", "[1, 3, 3, 3]", "expects 3"]],
    ["conv2d: a 2-D input", () => conv2d(randn([4, 4]), w()), ShapeError, ["conv2d", "[N, C, H, W]", "[4, 4]"]],
    ["conv2d: stride 0", () => conv2d(x(), w(), null, { stride: 0 }), ValueError, ["conv2d", "stride", "positive integer", "got 0"]],
    ["conv2d: negative padding", () => conv2d(x(), w(), null, { padding: -1 }), ValueError, ["conv2d", "padding", "non-negative", "got -1"]],
    ["conv2d: fractional padding", () => conv2d(x(), w(), null, { padding: 0.5 }), ValueError, ["conv2d", "padding", "0.5"]],
    ["conv2d: a [h, w, extra] stride", () => conv2d(x(), w(), null, { stride: [1, 1, 1] as never }), ValueError, ["conv2d", "stride", "[height, width] pair", "[1,1,1]"]],
    ["conv2d: groups 0", () => conv2d(x(), w(), null, { groups: 0 }), ValueError, ["conv2d", "groups", "positive integer", "got 0"]],
    ["conv2d: groups that do not divide", () => conv2d(randn([1, 3, 4, 4]), randn([2, 1, 3, 3]), null, { groups: 2 }), ShapeError, ["conv2d", "groups = 2", "input channels (3", "output channels (2"]],
    ["conv2d: a bias per wrong count", () => conv2d(x(), randn([2, 1, 3, 3]), randn([3])), ShapeError, ["conv2d", "bias must be [2]", "[2, 1, 3, 3]", "got shape [3]"]],
    ["conv2d: a kernel larger than the input", () => conv2d(randn([1, 1, 2, 2]), w()), ShapeError, ["conv2d", "kernel (3 × 3)", "padded input", "(2 × 2 with padding 0, 0"]],
    ["conv2d: a dilated kernel larger than the input", () => conv2d(x(), w(), null, { dilation: 2 }), ShapeError, ["conv2d", "dilated to 5 × 5", "[1, 1, 4, 4]"]],
    ["conv2d: an empty kernel axis", () => conv2d(x(), randn([1, 1, 0, 3])), ShapeError, ["conv2d", "[1, 1, 0, 3]", "empty axis"]],
    ["conv2d: a plain array", () => conv2d([1] as never, w()), ValueError, ["conv2d", "'x'", "an array", "tensor(...)"]],
    ["maxPool2d: no kernelSize", () => maxPool2d(x(), {} as never), ValueError, ["maxPool2d", "options.kernelSize is required", "maxPool2d(x, { kernelSize: 2 })"]],
    ["maxPool2d: no options", () => maxPool2d(x(), undefined as never), ValueError, ["maxPool2d", "kernelSize is required"]],
    ["maxPool2d: kernelSize 0", () => maxPool2d(x(), { kernelSize: 0 }), ValueError, ["maxPool2d", "kernelSize", "positive integer", "got 0"]],
    ["maxPool2d: a negative stride", () => maxPool2d(x(), { kernelSize: 2, stride: -1 }), ValueError, ["maxPool2d", "stride", "got -1"]],
    ["maxPool2d: padding above half the kernel", () => maxPool2d(x(), { kernelSize: 2, padding: 2 }), ValueError, ["maxPool2d", "padding", "half the kernel size", "[2, 2]"]],
    ["maxPool2d: a window larger than the input", () => maxPool2d(randn([1, 1, 1, 1]), { kernelSize: 2 }), ShapeError, ["maxPool2d", "window (2 × 2)", "[1, 1, 1, 1]"]],
    ["maxPool2d: a dilated window over padding only", () => maxPool2d(randn([1, 1, 2, 2]), { kernelSize: 2, padding: 1, dilation: 3, stride: 1 }), ShapeError, ["maxPool2d", "covers only padding", "dilation 3", "Use less padding or dilation"]],
    ["maxPool2d: a 2-D input", () => maxPool2d(randn([4, 4]), { kernelSize: 2 }), ShapeError, ["maxPool2d", "[N, C, H, W]", "[4, 4]"]],
    ["maxPool2d: a kernel of three numbers", () => maxPool2d(x(), { kernelSize: [2, 2, 2] as never }), ValueError, ["maxPool2d", "kernelSize", "[2,2,2]"]],
    ["avgPool2d: kernelSize 0", () => avgPool2d(x(), { kernelSize: 0 }), ValueError, ["avgPool2d", "kernelSize", "got 0"]],
    ["avgPool2d: a 2-D input", () => avgPool2d(randn([4, 4]), { kernelSize: 2 }), ShapeError, ["avgPool2d", "[N, C, H, W]", "[4, 4]"]],
    ["avgPool2d: a window larger than the input", () => avgPool2d(randn([1, 1, 1, 1]), { kernelSize: 3 }), ShapeError, ["avgPool2d", "window (3 × 3)", "[1, 1, 1, 1]"]],
    ["adaptiveAvgPool2d: outputSize 0", () => adaptiveAvgPool2d(x(), 0), ValueError, ["adaptiveAvgPool2d", "outputSize", "positive integer", "got 0"]],
    ["adaptiveAvgPool2d: a 2-D input", () => adaptiveAvgPool2d(randn([4, 4]), 2), ShapeError, ["adaptiveAvgPool2d", "[N, C, H, W]", "[4, 4]"]],
    ["adaptiveAvgPool2d: an empty image", () => adaptiveAvgPool2d(randn([1, 1, 0, 4]), 1), ShapeError, ["adaptiveAvgPool2d", "[1, 1, 0, 4]", "empty spatial axis"]],
  ]);
});

// ================================================================== onnx, models, backends

describe("onnx, models.fromBytes, backends", () => {
  const linear = (): nn.Linear => new nn.Linear(2, 2);
  const safetensorsWithoutMetadata = (): Uint8Array => serialize({ w: randn([2]) });
  table([
    ["onnx.exportModel: opset 3", () => onnx.exportModel(linear(), randn([1, 2]), { opset: 3 }), ValueError, ["onnx.exportModel", "opset", "from 17 to 21", "got 3"]],
    ["onnx.exportModel: an example input of the wrong size", () => onnx.exportModel(linear(), randn([1, 3])), ShapeError, ["Linear", "[..., 2]", "[1, 3]"]],
    ["onnx.exportModel: a 0-d example input", () => onnx.exportModel(linear(), tensor(1)), ValueError, ["onnx.exportModel", "0-d tensor", "shape [1, features]"]],
    ["onnx.exportModel: null instead of a module", () => onnx.exportModel(null as never, randn([1, 2])), ValueError, ["onnx.exportModel", "'module'", "nn.Module", "got null"]],
    ["onnx.exportModel: no example input", () => onnx.exportModel(linear(), undefined as never), ValueError, ["onnx.exportModel", "exampleInput", "randn([1, 784])", "got undefined"]],
    ["onnx.exportModel: an empty list of inputs", () => onnx.exportModel(linear(), []), ValueError, ["onnx.exportModel", "exampleInput", "non-empty array of Tensors"]],
    ["onnx.exportModel: more input names than inputs", () => onnx.exportModel(linear(), randn([1, 2]), { inputNames: ["a", "b"] }), ValueError, ["onnx.exportModel", "2 inputNames for 1 example inputs", "one name per input"]],
    ["onnx.exportModel: an input named like the output", () => onnx.exportModel(linear(), randn([1, 2]), { inputNames: ["a"], outputName: "a" }), ValueError, ["onnx.exportModel", "distinct", '["a","a"]']],
    ["onnx.loadModel: garbage bytes", () => onnx.loadModel(new Uint8Array([1, 2, 3, 4, 5])), DataError, ["onnx.loadModel", "not an ONNX model", "5 bytes", "truncated, corrupt or not ONNX"]],
    ["onnx.loadModel: an empty file", () => onnx.loadModel(new Uint8Array(0)), DataError, ["onnx.loadModel", "empty"]],
    ["onnx.loadModel: a file name instead of bytes", () => onnx.loadModel("model.onnx" as never), DataError, ["onnx.loadModel", "Uint8Array or ArrayBuffer", "string"]],
    ["onnx.loadModel: null", () => onnx.loadModel(null as never), DataError, ["onnx.loadModel", "Uint8Array or ArrayBuffer"]],
    ["onnx.loadModel: a safetensors file", () => onnx.loadModel(safetensorsWithoutMetadata()), DataError, ["onnx.loadModel", "not ONNX"]],
    ["models.fromBytes: garbage bytes", () => models.fromBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), FormatError, ["header length", "not safetensors"]],
    ["models.fromBytes: no bytes", () => models.fromBytes(new Uint8Array(0)), FormatError, ["0 bytes", "8-byte header length", "not safetensors"]],
    ["models.fromBytes: a PNG", () => models.fromBytes(new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82])), FormatError, ["header length", "not safetensors"]],
    ["models.fromBytes: an ONNX file", () => models.fromBytes(onnx.exportModel(linear(), randn([1, 2]))), FormatError, ["not safetensors"]],
    ["models.fromBytes: safetensors without chainrule's metadata", () => models.fromBytes(safetensorsWithoutMetadata()), ValueError, ["models.fromBytes", '"chainrule.architecture"', "chainrule train --out DIR", "models.toBytes"]],
    ["models.fromBytes: a string", () => models.fromBytes("model.safetensors" as never), ValueError, ["Uint8Array or ArrayBuffer", "string"]],
    ['setBackend("webgpu") before backendReady', () => setBackend("webgpu"), ValueError, ["setBackend", '"webgpu"', 'await backendReady("webgpu")']],
    ['setBackend("nope")', () => setBackend("nope"), ValueError, ["setBackend", '"nope"', "registered backends", "wasm"]],
    ['backendReady("nope")', () => backendReady("nope"), ValueError, ["backendReady", '"nope"', '"wasm", "js" or "webgpu"']],
  ]);
});

// ================================================================== detectAnomaly

describe("detectAnomaly names the op and the line of this file", () => {
  let line = 0;
  /** Records the line of this file it is called from: the op on the same line is the one anomaly mode must name. */
  const here = (): void => {
    const frame = new Error().stack!.split("\n")[2] ?? "";
    line = Number(/bad-input\.test\.ts:(\d+):\d+/.exec(frame)?.[1] ?? 0);
  };
  const atLine = (): RegExp => new RegExp(`bad-input\\.test\\.ts:${line}:\\d+`);
  const pairs = (): data.TensorDataset => new data.TensorDataset(tensor([[1, 2], [3, 4], [5, 6], [7, 8]]), i32([0, 1, 0, 1]));
  // A linear model, seeded: with lr 1e38 its second forward overflows, whatever ran before.
  const trainer = (lr: number, loss: (out: Tensor, y: Tensor) => Tensor = F.crossEntropy): Trainer => {
    manualSeed(0);
    const model = new nn.Sequential(new nn.Linear(2, 2));
    return new Trainer({ model, loss, optimizer: new optim.SGD(model.parameters(), { lr }), trainLoader: new data.DataLoader(pairs(), { batchSize: 2 }), epochs: 3, progress: "none" });
  };
  table([
    ["log(-1)", () => detectAnomaly(() => { here(); return tensor([-1, 2]).log(); }), AnomalyError, () => ["detectAnomaly", "forward of 'log'", "NaN", "[2]", "keep its input positive", atLine()]],
    ["log(0)", () => detectAnomaly(() => { here(); return tensor([0, 2]).log(); }), AnomalyError, () => ["'log'", "-Infinity", "clamp its input away from 0", atLine()]],
    ["0/0", () => detectAnomaly(() => { here(); return tensor([0, 1]).div(tensor([0, 1])); }), AnomalyError, () => ["forward of 'div'", "NaN", "0/0", "add a small epsilon to the denominator", atLine()]],
    ["1/0", () => detectAnomaly(() => { here(); return tensor([1]).div(0); }), AnomalyError, () => ["'div'", "Infinity", "division by 0", atLine()]],
    ["sqrt(-1)", () => detectAnomaly(() => { here(); return tensor([-1]).sqrt(); }), AnomalyError, () => ["'sqrt'", "NaN", "x.clamp(0).sqrt()", atLine()]],
    ["exp overflow", () => detectAnomaly(() => { here(); return tensor([100]).exp(); }), AnomalyError, () => ["'exp'", "Infinity", "overflow", "largest |input| is 100", atLine()]],
    [
      "backward of sqrt at 0",
      () => detectAnomaly(() => { const x = tensor([0, 1], { requiresGrad: true }); here(); const y = x.sqrt().sum(); y.backward(); }),
      AnomalyError,
      () => ["backward of 'sqrt'", "Infinity", "gradient of its input #0", "clamp its input above 0", atLine()],
    ],
    [
      "an input that already holds NaN",
      () => detectAnomaly(() => { const w = tensor([NaN, 1], { requiresGrad: true }); here(); return w.mul(2); }),
      AnomalyError,
      () => ["forward of 'mul'", "input #0", "already contained NaN/Inf", "a parameter", "lower the lr", atLine()],
    ],
    [
      "an exploding optimizer step (lr 1e38)",
      () =>
        detectAnomaly(() => {
          manualSeed(0);
          const model = new nn.Linear(2, 2);
          const opt = new optim.SGD(model.parameters(), { lr: 1e38 });
          const x = tensor([[1, 2], [3, 4]]);
          const y = i32([0, 1]);
          // prettier-ignore
          for (let i = 0; i < 5; i++) { opt.zeroGrad(); here(); F.crossEntropy(model.forward(x), y).backward(); opt.step(); }
        }),
      AnomalyError,
      () => ["detectAnomaly", /forward of '\w+'|backward of '\w+'/, /learning rate|lower the lr/, atLine()],
    ],
    ["an exploding step inside Trainer.fit()", () => detectAnomaly(() => { const t = trainer(1e38); here(); t.fit(); }), AnomalyError, () => ["detectAnomaly", /forward of '\w+'/, /learning rate|lower the lr/, atLine()]],
    [
      "a NaN loss inside Trainer.fit()",
      () => detectAnomaly(() => { here(); const t = trainer(0.1, (out) => out.sub(100).log().mean()); t.fit(); }),
      AnomalyError,
      () => ["forward of 'log'", "NaN", "keep its input positive", atLine()],
    ],
    [
      "a NaN inside an optimizer step's closure",
      () =>
        detectAnomaly(() => {
          const w = tensor([1, 2], { requiresGrad: true });
          const opt = new optim.SGD([w], { lr: 0.1 });
          opt.step(() => { here(); const l = w.sub(3).log().sum(); l.backward(); return l; });
        }),
      AnomalyError,
      () => ["forward of 'log'", "NaN", atLine()],
    ],
    [
      "setDetectAnomaly(true): 0/0 in a loss",
      () => {
        const previous = setDetectAnomaly(true);
        try {
          const p = tensor([0, 0.5]);
          here(); return p.div(p.sum().sub(0.5)).log();
        } finally {
          setDetectAnomaly(previous);
        }
      },
      AnomalyError,
      () => ["detectAnomaly", "'div'", atLine()],
    ],
  ]);
});

// ================================================================== the command line

/** A CLI row: the words after `chainrule` ($T is the fixture directory), the exit code, the message's words. */
type CliRow = readonly [what: string, argv: readonly string[], code: 1 | 2, words: Words, options?: { ms?: number; check?: (r: CliResult) => void }];
interface CliResult {
  code: number;
  out: string;
  err: string;
  ms: number;
}

let T = "";
const expand = (s: string): string => s.replaceAll("$T", T);

async function cli(argv: readonly string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const t0 = performance.now();
  const code = await run(argv.map(expand), { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err, ms: performance.now() - t0 };
}

beforeAll(async () => {
  T = mkdtempSync(join(tmpdir(), "chainrule-bad-input-"));
  writeFileSync(join(T, "file"), "a regular file, not a directory");
  writeFileSync(join(T, "garbage.safetensors"), "not a model at all, just text");
  mkdirSync(join(T, "empty"));
  const json = { "bad.json": "{not json", "object.json": '{"x": 1}', "short.json": "[1, 2, 3]", "text.json": '[1, "a"]', "empty.json": "[]", "hello.txt": "hello" };
  for (const [name, text] of Object.entries(json)) writeFileSync(join(T, name), text);
  writeFileSync(join(T, "broken.png"), Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]));
  // A trained model (2 spiral features → 3 classes) for the commands that read one.
  const r = await cli(["train", "--dataset", "spiral", "--epochs", "1", "--progress", "none", "--out", "$T/model"]);
  expect(r.code, r.err).toBe(0);
}, 60_000);
afterAll(() => rmSync(T, { recursive: true, force: true }));

function cliTable(rows: readonly CliRow[]): void {
  it.each(rows.map((r) => [r[0], r] as const))("%s", async (_what, [, argv, code, words, options]) => {
    const r = await cli(argv);
    expect(r.code, `exit code; stderr: ${r.err}`).toBe(code);
    // One line: "error: ..." (explain may add its caret lines and a hint; usage errors "(add --help for usage)").
    const lines = r.err.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^error: \S/);
    const extra = lines.slice(1).filter((l) => l !== "(add --help for usage)" && !/^ {2}/.test(l) && !/^\(give it as/.test(l));
    expect(extra, r.err).toEqual([]);
    expect(r.err, "no stack trace").not.toMatch(/^\s+at /m);
    expect(r.err).not.toMatch(/\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/);
    const message = expand(r.err);
    for (const w of words) {
      const word = typeof w === "string" ? expand(w) : w;
      expect(has(message, word), `${JSON.stringify(r.err)} should contain ${String(word)}`).toBe(true);
    }
    expect(r.ms, "time").toBeLessThan(options?.ms ?? 10_000);
    options?.check?.(r);
  });
}

/** A formula of `n` characters: x+x+…, nested parentheses, or opening ones only. */
const long = {
  sum: "x" + "+x".repeat(4999),
  nested: "(".repeat(5000) + "x" + ")".repeat(5000),
  open: "(".repeat(10_000),
  dashes: "-".repeat(9999) + "x",
};

describe("chainrule train", () => {
  cliTable([
    ["--epochs -1", ["train", "--epochs", "-1"], 2, ["--epochs", "'-1'", "positive integer"]],
    ["--epochs 0", ["train", "--epochs", "0"], 2, ["--epochs", "'0'", "positive integer (1, 2, 3, ...)"]],
    ["--epochs abc", ["train", "--epochs", "abc"], 2, ["--epochs", "'abc'", "positive integer"]],
    ["--epochs 2.5", ["train", "--epochs", "2.5"], 2, ["--epochs", "'2.5'", "positive integer"]],
    ["--epochs without a value", ["train", "--epochs"], 2, ["--epochs", "argument missing"]],
    ["--batch-size -5", ["train", "--batch-size", "-5"], 2, ["--batch-size", "'-5'", "positive integer"]],
    ["--batch-size x", ["train", "--batch-size", "x"], 2, ["--batch-size", "'x'"]],
    ["--lr 0", ["train", "--lr", "0"], 2, ["--lr", "'0'", "greater than 0 (e.g. 0.1 or 1e-3)"]],
    ["--lr -0.1", ["train", "--lr", "-0.1"], 2, ["--lr", "'-0.1'", "greater than 0"]],
    ["--lr abc", ["train", "--lr", "abc"], 2, ["--lr", "'abc'", "Expected a number"]],
    ["--lr NaN", ["train", "--lr", "NaN"], 2, ["--lr", "'NaN'", "Expected a number"]],
    ["--lr Infinity", ["train", "--lr", "Infinity"], 2, ["--lr", "'Infinity'", "Expected a number"]],
    ["--momentum -1", ["train", "--momentum", "-1"], 2, ["--momentum", "'-1'", "≥ 0"]],
    ["--weight-decay -1", ["train", "--weight-decay", "-1"], 2, ["--weight-decay", "'-1'", "≥ 0"]],
    ["--weight-decay x", ["train", "--weight-decay", "x"], 2, ["--weight-decay", "'x'", "number"]],
    ["--seed -1", ["train", "--seed", "-1"], 2, ["--seed", "'-1'", "non-negative integer (0, 1, 2, ...)"]],
    ["--seed 1.5", ["train", "--seed", "1.5"], 2, ["--seed", "'1.5'", "non-negative integer"]],
    ["--val-fraction 1", ["train", "--val-fraction", "1"], 2, ["--val-fraction", "'1'", "fraction in [0, 1)"]],
    ["--val-fraction -0.1", ["train", "--val-fraction", "-0.1"], 2, ["--val-fraction", "'-0.1'", "[0, 1)"]],
    ["--train-size 0", ["train", "--train-size", "0"], 2, ["--train-size", "'0'", "positive integer"]],
    ["--train-size -1", ["train", "--train-size", "-1"], 2, ["--train-size", "'-1'", "positive integer"]],
    ["--momentum x", ["train", "--momentum", "x"], 2, ["--momentum", "'x'", "Expected a number"]],
    ["--val-fraction x", ["train", "--val-fraction", "x"], 2, ["--val-fraction", "'x'", "Expected a number"]],
    ["--data-dir without a value", ["train", "--data-dir"], 2, ["--data-dir", "argument missing"]],
    ["--resume without a value", ["train", "--resume"], 2, ["--resume", "argument missing"]],
    ["--test-size x", ["train", "--test-size", "x"], 2, ["--test-size", "'x'", "positive integer"]],
    ["--hidden empty", ["train", "--hidden", ""], 2, ["--hidden", "''", "positive integers separated by commas", '"100,100"']],
    ["--hidden 0", ["train", "--hidden", "0"], 2, ["--hidden", "'0'", "positive integers"]],
    ["--hidden -5", ["train", "--hidden", "-5"], 2, ["--hidden", "'-5'"]],
    ["--hidden 100,zero", ["train", "--hidden", "100,zero"], 2, ["--hidden", "'100,zero'", "comma"]],
    ["--model nope", ["train", "--model", "nope"], 2, ["--model", '"nope"', "is not a layer", "conv<F>"]],
    ["--model conv0-pool", ["train", "--model", "conv0-pool"], 2, ["--model", '"conv0"', "sizes must be positive"]],
    ["--model without a value", ["train", "--model"], 2, ["--model", "argument missing"]],
    ["--dataset imagenet", ["train", "--dataset", "imagenet"], 2, ["--dataset", "'imagenet'", "mnist, mnist-idx, cifar10, spiral"]],
    ["--normalize zscore", ["train", "--normalize", "zscore"], 2, ["--normalize", "'zscore'", "none, standardize"]],
    ["--lr-schedule linear", ["train", "--lr-schedule", "linear"], 2, ["--lr-schedule", "'linear'", "constant, cosine, step"]],
    ["--activation gelu", ["train", "--activation", "gelu"], 2, ["--activation", "'gelu'", "relu, leakyRelu, tanh, sigmoid, elu"]],
    ["--loss mse", ["train", "--loss", "mse"], 2, ["--loss", "'mse'", "softmax, svm"]],
    ["--optimizer adagrad", ["train", "--optimizer", "adagrad"], 2, ["--optimizer", "'adagrad'", "sgd, momentum, rmsprop, adam, adamw"]],
    ["--dtype int32", ["train", "--dtype", "int32"], 2, ["--dtype", "'int32'", "float32, float64"]],
    ["--progress fancy", ["train", "--progress", "fancy"], 2, ["--progress", "'fancy'", "bar, lines, json, none"]],
    ["--backend cuda", ["train", "--backend", "cuda"], 2, ["--backend", "'cuda'", "wasm, js, webgpu"]],
    ["--backend webgpu --dtype float64", ["train", "--backend", "webgpu", "--dtype", "float64"], 2, ["--backend webgpu", "float32", "drop --dtype float64"]],
    ["--out without a value", ["train", "--out"], 2, ["--out", "argument missing"]],
    ["an unknown option", ["train", "--colour", "red"], 2, ["unknown option '--colour'"]],
    ["--resume of a file that is not a checkpoint", ["train", "--dataset", "spiral", "--epochs", "2", "--resume", "$T/garbage.safetensors"], 1, ["--resume", "$T/garbage.safetensors", "checkpointFromBytes", "not safetensors"], { check: (r) => expect(r.out).not.toMatch(/epoch 1/) }],
    ["--resume of a missing file", ["train", "--dataset", "spiral", "--resume", "$T/nope.safetensors"], 1, ["--resume", "$T/nope.safetensors", "does not exist", "checkpoint.safetensors"]],
    [
      "--out under a regular file fails before the data loads",
      ["train", "--out", "$T/file/run"],
      1,
      ["--out", "$T/file/run", /not a directory|ENOTDIR/],
      { ms: 3000, check: (r) => expect(r.out).not.toMatch(/data:|epoch/) },
    ],
    ["--out that is a regular file", ["train", "--dataset", "spiral", "--out", "$T/file"], 1, ["--out", "$T/file", /EEXIST|not a directory/], { check: (r) => expect(r.out).not.toMatch(/epoch/) }],
    ["--dataset mnist-idx without --data-dir", ["train", "--dataset", "mnist-idx"], 2, ["--dataset mnist-idx", "needs --data-dir DIR"]],
    ["--data-dir that does not exist", ["train", "--dataset", "mnist-idx", "--data-dir", "$T/nodir", "--epochs", "1"], 1, ["--data-dir $T/nodir", "loadMnistIdx", "does not exist"]],
    ["--data-dir without the IDX files", ["train", "--dataset", "mnist-idx", "--data-dir", "$T/empty", "--epochs", "1"], 1, ["--data-dir $T/empty", "t10k-images-idx3-ubyte", "looked for"]],
    ["--data-dir without the CIFAR-10 batches", ["train", "--dataset", "cifar10", "--data-dir", "$T/empty", "--epochs", "1"], 1, ["--data-dir $T/empty", "test_batch.bin", "missing"]],
    ["--data-dir with a built-in dataset", ["train", "--data-dir", "$T"], 2, ["--data-dir", "mnist-idx or cifar10", "built in"]],
    ["--train-size with spiral", ["train", "--dataset", "spiral", "--train-size", "10"], 2, ["--train-size", "spiral", "900 points are fixed"]],
    ["--model cnn on spiral", ["train", "--dataset", "spiral", "--model", "cnn"], 2, ["--model cnn", "needs images", "use --model mlp"]],
  ]);
});

describe("chainrule eval, predict, export", () => {
  cliTable([
    ["eval without --model", ["eval"], 2, ["required option '--model <dir>'"]],
    ["eval --model without a value", ["eval", "--model"], 2, ["--model", "argument missing"]],
    ["eval --model that does not exist", ["eval", "--model", "$T/nope"], 1, ["--model", "$T/nope", "does not exist", "--out directory of `chainrule train`"]],
    ["eval --model of a directory with no model", ["eval", "--model", "$T/empty"], 1, ["--model", "$T/empty", "no model.safetensors"]],
    ["eval --model of a text file", ["eval", "--model", "$T/garbage.safetensors"], 1, ["--model $T/garbage.safetensors", "not safetensors", "chainrule train"]],
    ["eval --model of a file that is not a model", ["eval", "--model", "$T/file"], 1, ["--model $T/file", "header length", "not safetensors"]],
    ["eval --batch-size 0", ["eval", "--model", "$T/model", "--batch-size", "0"], 2, ["--batch-size", "'0'", "positive integer"]],
    ["eval --test-size -1", ["eval", "--model", "$T/model", "--test-size", "-1"], 2, ["--test-size", "'-1'"]],
    ["eval --data-dir without a value", ["eval", "--model", "$T/model", "--data-dir"], 2, ["--data-dir", "argument missing"]],
    ["eval --dataset x", ["eval", "--model", "$T/model", "--dataset", "x"], 2, ["--dataset", "'x'", "Allowed choices"]],
    ["eval: an unknown option", ["eval", "--model", "$T/model", "--bogus"], 2, ["unknown option '--bogus'"]],
    ["eval --data-dir for a built-in dataset", ["eval", "--model", "$T/model", "--data-dir", "$T"], 2, ["--data-dir", "mnist-idx or cifar10", "--dataset spiral (the model's) is built in"]],
    ["eval on data of another width", ["eval", "--model", "$T/model", "--dataset", "mnist"], 1, ["2 input features", "--dataset mnist has 784", "evaluate it on the data it was trained on"], { ms: 20_000 }],
    ["eval --dataset mnist-idx without --data-dir", ["eval", "--model", "$T/model", "--dataset", "mnist-idx"], 2, ["--dataset mnist-idx", "needs --data-dir"]],
    ["eval --data-dir without the IDX files", ["eval", "--model", "$T/model", "--dataset", "mnist-idx", "--data-dir", "$T/empty"], 1, ["--data-dir $T/empty", "t10k-images-idx3-ubyte"]],
    ["predict without --model", ["predict"], 2, ["required option '--model <dir>'"]],
    ["predict --model that does not exist", ["predict", "--model", "$T/nope"], 1, ["--model", "$T/nope", "does not exist"]],
    ["predict --model of a text file", ["predict", "--model", "$T/garbage.safetensors"], 1, ["--model $T/garbage.safetensors", "not safetensors"]],
    ["predict --top 0", ["predict", "--model", "$T/model", "--top", "0"], 2, ["--top", "'0'", "positive integer"]],
    ["predict --top x", ["predict", "--model", "$T/model", "--top", "x"], 2, ["--top", "'x'"]],
    ["predict --input that does not exist", ["predict", "--model", "$T/model", "--input", "$T/nope.json"], 1, ["--input $T/nope.json", "no such file", "pass a .png image, a .json file"]],
    ["predict --input of a directory", ["predict", "--model", "$T/model", "--input", "$T"], 1, ["--input $T", "it is a directory"]],
    ["predict --input of broken JSON", ["predict", "--model", "$T/model", "--input", "$T/bad.json"], 1, ["--input $T/bad.json", "not valid JSON"]],
    ["predict --input of an object without inputs", ["predict", "--model", "$T/model", "--input", "$T/object.json"], 1, ["--input $T/object.json", '"inputs" field', '["x"]']],
    ["predict --input with too few features", ["predict", "--model", "$T/model", "--input", "$T/short.json"], 1, ["--input $T/short.json", "sample 0 has 3 values", "2 input features"]],
    ["predict --input with a string value", ["predict", "--model", "$T/model", "--input", "$T/text.json"], 1, ["--input $T/text.json", 'sample 0[1] is "a"', "finite number"]],
    ["predict --input of an empty array", ["predict", "--model", "$T/model", "--input", "$T/empty.json"], 1, ["--input $T/empty.json", "expected an array of numbers", "got []"]],
    ["predict --input of plain text", ["predict", "--model", "$T/model", "--input", "$T/hello.txt"], 1, ["--input $T/hello.txt", "neither a PNG nor JSON", '"hello"', "give an image.png or a JSON array"]],
    ["predict --input of a PNG for a model of points", ["predict", "--model", "$T/model", "--input", "$T/broken.png"], 1, ["--input $T/broken.png", "not trained on images", "pass its features as JSON"]],
    ["predict --invert with JSON", ["predict", "--model", "$T/model", "--input", "$T/short.json", "--invert"], 2, ["--invert", "PNG input only"]],
    ["predict --input without a value", ["predict", "--model", "$T/model", "--input"], 2, ["--input", "argument missing"]],
    ["predict: an unknown option", ["predict", "--model", "$T/model", "--bogus"], 2, ["unknown option '--bogus'"]],
    ["export without --model", ["export"], 2, ["required option '--model <dir>'"]],
    ["export --model that does not exist", ["export", "--model", "$T/nope"], 1, ["--model", "$T/nope", "does not exist"]],
    ["export --opset 3", ["export", "--model", "$T/model", "--opset", "3"], 2, ["--opset", "17 to 21", '"3"']],
    ["export --opset x", ["export", "--model", "$T/model", "--opset", "x"], 2, ["--opset", '"x"']],
    ["export --opset 22", ["export", "--model", "$T/model", "--opset", "22"], 2, ["--opset", '"22"']],
    ["export --opset 17.5", ["export", "--model", "$T/model", "--opset", "17.5"], 2, ["--opset", "an integer", '"17.5"']],
    ["export --opset without a value", ["export", "--model", "$T/model", "--opset"], 2, ["--opset", "argument missing"]],
    ["export --format tflite", ["export", "--model", "$T/model", "--format", "tflite"], 2, ["--format", "'tflite'", "Allowed choices are onnx"]],
    ["export --out under a regular file", ["export", "--model", "$T/model", "--out", "$T/file/model.onnx"], 1, ["--out $T/file/model.onnx", "a part of the path is a file", "directory that exists and can be written"]],
    ["export --out of a directory", ["export", "--model", "$T/model", "--out", "$T"], 1, ["--out $T", "it is a directory", "give a file name"]],
    ["export --out in a missing directory", ["export", "--model", "$T/model", "--out", "$T/nodir/model.onnx"], 1, ["--out $T/nodir/model.onnx", "the directory does not exist"]],
    ["export --out without a value", ["export", "--model", "$T/model", "--out"], 2, ["--out", "argument missing"]],
    ["export: an unknown option", ["export", "--model", "$T/model", "--bogus"], 2, ["unknown option '--bogus'"]],
  ]);
});

describe("chainrule gradcheck, graph", () => {
  cliTable([
    ["gradcheck --samples 0", ["gradcheck", "--samples", "0"], 2, ["--samples", "'0'", "positive integer"]],
    ["gradcheck --samples -3", ["gradcheck", "--samples", "-3"], 2, ["--samples", "'-3'", "positive integer"]],
    ["gradcheck --max-elements x", ["gradcheck", "--max-elements", "x"], 2, ["--max-elements", "'x'"]],
    ["gradcheck --model without a value", ["gradcheck", "--model"], 2, ["--model", "argument missing"]],
    ["gradcheck --eps 0", ["gradcheck", "--eps", "0"], 2, ["--eps", "'0'", "greater than 0"]],
    ["gradcheck --eps -1", ["gradcheck", "--eps", "-1"], 2, ["--eps", "'-1'"]],
    ["gradcheck --atol -1", ["gradcheck", "--atol", "-1"], 2, ["--atol", "'-1'", "≥ 0"]],
    ["gradcheck --rtol x", ["gradcheck", "--rtol", "x"], 2, ["--rtol", "'x'", "number"]],
    ["gradcheck --max-elements 0", ["gradcheck", "--max-elements", "0"], 2, ["--max-elements", "'0'"]],
    ["gradcheck --inputs 0", ["gradcheck", "--inputs", "0"], 2, ["--inputs", "'0'"]],
    ["gradcheck --classes -1", ["gradcheck", "--classes", "-1"], 2, ["--classes", "'-1'"]],
    ["gradcheck --hidden a", ["gradcheck", "--hidden", "a"], 2, ["--hidden", "'a'", "comma"]],
    ["gradcheck --seed x", ["gradcheck", "--seed", "x"], 2, ["--seed", "'x'", "non-negative integer"]],
    ["gradcheck --activation gelu", ["gradcheck", "--activation", "gelu"], 2, ["--activation", "'gelu'", "Allowed choices"]],
    ["gradcheck --loss mse", ["gradcheck", "--loss", "mse"], 2, ["--loss", "'mse'", "softmax, svm"]],
    ["gradcheck --model that does not exist", ["gradcheck", "--model", "$T/nope"], 1, ["--model", "$T/nope", "does not exist"]],
    ["gradcheck --model of a short file", ["gradcheck", "--model", "$T/file"], 1, ["--model $T/file", "not safetensors"]],
    ["gradcheck --model with --hidden", ["gradcheck", "--model", "$T/model", "--hidden", "5"], 2, ["--hidden", "cannot be used with option '--model <dir>'"]],
    ["gradcheck: an unknown option", ["gradcheck", "--bogus"], 2, ["unknown option '--bogus'"]],
    ["graph --batch 0", ["graph", "--batch", "0"], 2, ["--batch", "'0'", "positive integer"]],
    ["graph --batch x", ["graph", "--batch", "x"], 2, ["--batch", "'x'", "positive integer"]],
    ["graph --activation gelu", ["graph", "--activation", "gelu"], 2, ["--activation", "'gelu'", "Allowed choices"]],
    ["graph --loss mse", ["graph", "--loss", "mse"], 2, ["--loss", "'mse'", "softmax, svm"]],
    ["graph --expand without a value", ["graph", "--expand"], 2, ["--expand", "argument missing"]],
    ["graph --inputs -1", ["graph", "--inputs", "-1"], 2, ["--inputs", "'-1'"]],
    ["graph --classes 0", ["graph", "--classes", "0"], 2, ["--classes", "'0'"]],
    ["graph --hidden x", ["graph", "--hidden", "x"], 2, ["--hidden", "'x'"]],
    ["graph --max-nodes 0", ["graph", "--max-nodes", "0"], 2, ["--max-nodes", "'0'"]],
    ["graph --seed -2", ["graph", "--seed", "-2"], 2, ["--seed", "'-2'"]],
    ["graph --model that does not exist", ["graph", "--model", "$T/nope", "--out", "$T/g.svg"], 1, ["--model", "$T/nope", "does not exist"]],
    ["graph --model of a short file", ["graph", "--model", "$T/file", "--out", "$T/g.svg"], 1, ["--model $T/file"]],
    ["graph --out under a regular file", ["graph", "--out", "$T/file/g.svg"], 1, ["--out $T/file/g.svg", "a part of the path is a file"]],
    ["graph --out with an unknown extension", ["graph", "--out", "$T/g.txt"], 2, ["--out $T/g.txt", '".txt"', ".svg, .png, .dot, .gv, .json"]],
    ["graph --expand of a module the model lacks", ["graph", "--expand", "9", "--out", "$T/g.svg"], 2, ["--expand 9", 'no module "9"', "its modules are 0, 1, 2", '"all"']],
    ["graph --out without a value", ["graph", "--out"], 2, ["--out", "argument missing"]],
    ["graph: an unknown option", ["graph", "--bogus"], 2, ["unknown option '--bogus'"]],
  ]);
});

describe("chainrule explain", () => {
  cliTable([
    ["no expression", ["explain"], 2, ["missing required argument 'expression'"]],
    ["an unclosed parenthesis", ["explain", "(x+y", "--x", "1", "--y", "2"], 2, ["'(' is never closed", "add the missing ')'", "column 1"]],
    ["an unmatched ')'", ["explain", "x+y)", "--x", "1", "--y", "2"], 2, ["')' without a matching '('", "remove it", "column 4"]],
    ["a trailing operator", ["explain", "x+", "--x", "1"], 2, ["ends too early", "after '+'", "complete it or remove the operator", "column 3"]],
    ["an empty expression", ["explain", ""], 2, ["empty expression", 'e.g. "(x+y)*z"']],
    ["a blank expression", ["explain", "   "], 2, ["empty expression"]],
    ["an unknown function", ["explain", "foo(x)", "--x", "1"], 2, ["unknown function 'foo'", "known: exp, log, sigmoid, tanh, relu, max, min"]],
    ["a function without parentheses", ["explain", "exp", "--x", "1"], 2, ["'exp' is a function", "write exp(…)"]],
    ["a function with two arguments", ["explain", "exp(x, y)", "--x", "1", "--y", "1"], 2, ["exp takes 1 argument, got 2"]],
    ["a variable with no value", ["explain", "x*y", "--x", "1"], 2, ["missing value for variable 'y'", "--y <number>"]],
    ["a value for a variable not in the formula", ["explain", "x", "--x", "1", "--y", "2"], 2, ["unknown variable 'y'", "uses only x"]],
    ["--x without a value", ["explain", "x", "--x"], 2, ["--x needs a value", "--x -2"]],
    ["--x abc", ["explain", "x", "--x", "abc"], 2, ["--x", 'expected a number, got "abc"']],
    ["--x 1e400", ["explain", "x", "--x", "1e400"], 2, ["--x", '"1e400"']],
    ["--x given twice", ["explain", "x", "--x", "1", "--x", "2"], 2, ["'x' is given twice"]],
    ["--digits 0", ["explain", "x", "--x", "1", "--digits", "0"], 2, ["--digits", "'0'", "positive integer"]],
    ["--digits x", ["explain", "x", "--x", "1", "--digits", "x"], 2, ["--digits", "'x'"]],
    ["an unexpected character", ["explain", "x $ y", "--x", "1", "--y", "1"], 2, ["unexpected character '$'", "the language has numbers"]],
    ["two values side by side", ["explain", "x y", "--x", "1", "--y", "2"], 2, ["unexpected 'y' after a complete expression"]],
    ["two expressions", ["explain", "x", "y", "--x", "1", "--y", "2"], 2, ["expected one expression, got 2", "quote the expression"]],
    ["--svg without a value", ["explain", "x", "--x", "1", "--svg"], 2, ["--svg", "argument missing"]],
    ["an unknown option is an unknown variable", ["explain", "x", "--x", "1", "--bogus", "2"], 2, ["unknown variable 'bogus'", "uses only x"]],
    ["--svg under a regular file", ["explain", "x*2", "--x", "1", "--svg", "$T/file/f.svg"], 1, ["--svg $T/file/f.svg", "a part of the path is a file"]],
    ["a 10,000-character sum answers at once", ["explain", long.sum, "--x", "0.5"], 2, ["too long", "more than 2000", "9999 characters", "one part of it at a time", "…"], { ms: 1000 }],
    ["10,000 nested parentheses answer at once", ["explain", long.nested, "--x", "0.5"], 2, ["too long", "10001 characters"], { ms: 1000 }],
    ["10,000 unclosed parentheses answer at once", ["explain", long.open], 2, ["too long", "10000 characters"], { ms: 1000 }],
    ["10,000 characters starting with -- answer at once", ["explain", long.dashes, "--x", "1"], 2, ["is not a variable name", "(10000 characters)", "write the expression as -(-x)"], { ms: 1000, check: (r) => expect(r.err.length).toBeLessThan(600) }],
    ["a 10,000-digit number", ["explain", "1".repeat(10_000), "--x", "1"], 2, ["unknown variable 'x'", "(10000 characters)", "has no variables"], { ms: 1000, check: (r) => expect(r.err.length).toBeLessThan(600) }],
  ]);
});

describe("chainrule (the program)", () => {
  cliTable([
    ["an unknown command", ["fly"], 2, ["unknown command 'fly'"]],
    ["an unknown global option", ["--bogus"], 2, ["unknown option '--bogus'"]],
  ]);

  it("train --out that cannot be written leaves nothing half-written behind", async () => {
    const r = await cli(["train", "--dataset", "spiral", "--out", "$T/file/deeper/run"]);
    expect(r.code).toBe(1);
    expect(readdirSync(T).filter((f) => f.startsWith(".chainrule-write-test"))).toEqual([]);
  });
});
