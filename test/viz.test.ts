import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GraphError, ValueError, nn, randint, randn, scope, tensor, withGraphValues, Generator, type Tensor } from "../src/index.js";
import { viz as nodeViz } from "../src/node.js";
import { run } from "../src/cli/main.js";
import type { CliIO } from "../src/cli/common.js";
import { main as vizExamples } from "../examples/viz.js";
// The lecture's sigmoid gate as ONE node (defineOp): the same definition the demo prints.
import { sigmoidGate } from "../examples/lecture.js";

const { trace, toDot, toSvg, explain, parseExpression, buildExpression, ExpressionError } = nodeViz;
const leaf = { dtype: "float64" as const, requiresGrad: true };
const s = (v: number, name: string): Tensor => tensor(v, leaf).named(name);

/** (a) f = (x + y)·z at x = −2, y = 5, z = −4, with q = x + y named as in the lecture. */
function circuitA() {
  const x = s(-2, "x");
  const y = s(5, "y");
  const z = s(-4, "z");
  const q = x.add(y).named("q");
  return { x, y, z, q, f: q.mul(z) };
}

/** (b) the sigmoid neuron from primitive gates: 1 / (1 + exp(−(w0·x0 + w1·x1 + w2))). */
function neuronLeaves() {
  return { w0: s(2, "w0"), x0: s(-1, "x0"), w1: s(-3, "w1"), x1: s(-2, "x1"), w2: s(-3, "w2") };
}


const HEADER = "backward, gate by gate in the order backprop visits them (downstream gradient = upstream gradient × local gradient):";
const ADD = "   (the add gate distributes: each input gets the upstream gradient)";
const MUL = "   (the mul gate swaps: each input's local gradient is the other input)";

describe("explain: the lecture's examples, golden text", () => {
  it("(a) f = (x + y)·z: mul swaps, add distributes; the numbers of the lecture", () => {
    const { f } = circuitA();
    expect(explain(f)).toBe(
      [
        "forward: x = -2.00, y = 5.00, z = -4.00 → f = -12.00",
        HEADER,
        "start: df = 1.00 (the gradient of f with respect to itself)",
        `1. mul(q = 3.00, z = -4.00) = -12.00: upstream 1.00 × local z = -4.00 → dq = -4.00; upstream 1.00 × local q = 3.00 → dz = 3.00${MUL}`,
        `2. add(x = -2.00, y = 5.00) = 3.00: upstream -4.00 × local 1 → dx = -4.00; upstream -4.00 × local 1 → dy = -4.00${ADD}`,
        "gradients: dx = -4.00, dy = -4.00, dz = 3.00",
        "",
      ].join("\n"),
    );
  });

  it("(b) the sigmoid neuron from primitive gates (w = [2, -3, -3], x = [-1, -2])", () => {
    const { w0, x0, w1, x1, w2 } = neuronLeaves();
    const f = w0.mul(x0).add(w1.mul(x1)).add(w2).mul(-1).exp().add(1).reciprocal();
    expect(explain(f)).toBe(
      [
        "forward: w0 = 2.00, x0 = -1.00, w1 = -3.00, x1 = -2.00, w2 = -3.00 → f = 0.73",
        HEADER,
        "start: df = 1.00 (the gradient of f with respect to itself)",
        "1. 1/x(add3 = 1.37) = 0.73: upstream 1.00 × local -1/x² = -0.53 → d(add3) = -0.53",
        `2. +1(exp1 = 0.37) = 1.37: upstream -0.53 × local 1 → d(exp1) = -0.53${ADD}`,
        "3. exp(mul3 = -1.00) = 0.37: upstream -0.53 × local e^x = 0.37 → d(mul3) = -0.20",
        "4. *-1(add2 = 1.00) = -1.00: upstream -0.20 × local -1.00 → d(add2) = 0.20   (a mul by a constant scales the gradient by it)",
        `5. add(add1 = 4.00, w2 = -3.00) = 1.00: upstream 0.20 × local 1 → d(add1) = 0.20; upstream 0.20 × local 1 → dw2 = 0.20${ADD}`,
        `6. add(mul1 = -2.00, mul2 = 6.00) = 4.00: upstream 0.20 × local 1 → d(mul1) = 0.20; upstream 0.20 × local 1 → d(mul2) = 0.20${ADD}`,
        `7. mul(w1 = -3.00, x1 = -2.00) = 6.00: upstream 0.20 × local x1 = -2.00 → dw1 = -0.39; upstream 0.20 × local w1 = -3.00 → dx1 = -0.59${MUL}`,
        `8. mul(w0 = 2.00, x0 = -1.00) = -2.00: upstream 0.20 × local x0 = -1.00 → dw0 = -0.20; upstream 0.20 × local w0 = 2.00 → dx0 = 0.39${MUL}`,
        "gradients: dw0 = -0.20, dx0 = 0.39, dw1 = -0.39, dx1 = -0.59, dw2 = 0.20",
        "",
      ].join("\n"),
    );
  });

  it("(b) the same neuron with ONE custom sigmoid gate (defineOp): local gradient 0.20, same gradients", () => {
    const { w0, x0, w1, x1, w2 } = neuronLeaves();
    const dot = w0.mul(x0).add(w1.mul(x1)).add(w2).named("w·x");
    const text = explain(sigmoidGate(dot));
    const lines = text.split("\n");
    expect(lines[3]).toBe("1. sigmoidGate(w·x = 1.00) = 0.73: upstream 1.00 × local 0.20 → d(w·x) = 0.20   (local gradient read as downstream ÷ upstream)");
    expect(lines).toHaveLength(10);
    expect(lines[8]).toBe("gradients: dw0 = -0.20, dx0 = 0.39, dw1 = -0.39, dx1 = -0.59, dw2 = 0.20");
    // The built-in sigmoid gate states its local gradient as the lecture does: σ(1 − σ).
    const builtIn = explain(neuronLeavesDot().sigmoid());
    expect(builtIn).toContain("1. sigmoid(w·x = 1.00) = 0.73: upstream 1.00 × local σ·(1−σ) = 0.73 × 0.27 = 0.20 → d(w·x) = 0.20\n");
  });

  it("(b) from the expression language: intermediate values named after their text", () => {
    const { output } = buildExpression("1/(1+exp(-(w0*x0+w1*x1+w2)))", { w0: 2, x0: -1, w1: -3, x1: -2, w2: -3 });
    const text = explain(output);
    expect(text).toContain("5. add(w0*x0+w1*x1 = 4.00, w2 = -3.00) = 1.00: upstream 0.20 × local 1 → d(w0*x0+w1*x1) = 0.20; upstream 0.20 × local 1 → dw2 = 0.20");
    expect(text).toContain("4. neg(add1 = 1.00) = -1.00: upstream -0.20 × local -1 → d(add1) = 0.20\n");
    expect(text).toContain("gradients: dw0 = -0.20, dx0 = 0.39, dw1 = -0.39, dx1 = -0.59, dw2 = 0.20\n");
  });

  it("(c) f = ||W·x||² through the library API: 2q, 2·q·xᵀ and 2·Wᵀ·q, a value used twice sums", () => {
    const W = tensor([[0.1, 0.5], [-0.3, 0.8]], leaf).named("W");
    const x = tensor([0.2, 0.4], leaf).named("x");
    const q = W.matmul(x).named("q");
    const text = explain(q.square().sum(), { digits: 3 });
    const lines = text.split("\n");
    expect(lines[0]).toBe("forward: W = [[0.100, 0.500], [-0.300, 0.800]], x = [0.200, 0.400] → f = 0.116");
    expect(lines[3]).toBe(
      "1. sum(mul1 = [0.048, 0.068]) = 0.116: upstream 1.000 × local 1 (for every element) → d(mul1) = [1.000, 1.000]   (sum distributes like add: every element gets the upstream gradient)",
    );
    expect(lines[4]).toContain("2. mul(q = [0.220, 0.260], q = [0.220, 0.260]) = [0.048, 0.068]");
    expect(lines[5]).toBe("   q is used 2 times, so its gradients add up (copy gate): dq = [0.220, 0.260] + [0.220, 0.260] = [0.440, 0.520]");
    expect(text).toContain("→ dW = [[0.088, 0.176], [0.104, 0.208]]");
    expect(lines.at(-2)).toBe("gradients: dW = [[0.088, 0.176], [0.104, 0.208]], dx = [-0.112, 0.636]");
  });

  it("names the max gate's routing and the copy gate for a leaf used three times", () => {
    const x = s(3, "x");
    const b = s(1, "b");
    const text = explain(x.mul(x).add(x.maximum(b)));
    expect(text).toContain("maximum(x = 3.00, b = 1.00) = 3.00: upstream 1.00 × local 1 (x is the larger) → dx = 1.00; upstream 1.00 × local 0 → db = 0.00   (the max gate routes");
    expect(text).toContain("   x is used 3 times, so its gradients add up (copy gate): dx = 1.00 + 3.00 + 3.00 = 7.00\n");
    expect(text).toContain("gradients: dx = 7.00, db = 0.00");
  });

  it("leaves .grad untouched, explains a recorded pass, and refuses a released graph", () => {
    const a = circuitA();
    explain(a.f);
    expect(a.x.grad).toBeNull();
    a.f.backward(); // the graph is still whole: explain kept it
    expect(a.x.grad!.item()).toBe(-4);

    const b = circuitA();
    withGraphValues(() => b.f.backward());
    expect(explain(b.f)).toContain("gradients: dx = -4.00, dy = -4.00, dz = 3.00");
    expect(b.x.grad!.item()).toBe(-4); // not accumulated twice

    const c = circuitA();
    c.f.backward();
    expect(() => explain(c.f)).toThrow(GraphError);
    expect(() => explain(c.f)).toThrow(/withGraphValues/);
  });
});

function neuronLeavesDot(): Tensor {
  const { w0, x0, w1, x1, w2 } = neuronLeaves();
  return w0.mul(x0).add(w1.mul(x1)).add(w2).named("w·x");
}

describe("trace: the graph as data", () => {
  it("nodes, edges, stable ids and labels; 'no gradient' before backward", () => {
    const g = trace(circuitA().f);
    expect(g.format).toBe("chainrule.trace/1");
    expect(g.nodes.map((n) => [n.id, n.kind, n.name, n.op ?? null])).toEqual([
      ["n0", "input", "x", null],
      ["n1", "input", "y", null],
      ["n2", "op", "q", "add"],
      ["n3", "input", "z", null],
      ["n4", "op", "f", "mul"],
    ]);
    expect(g.edges).toEqual([
      { from: "n0", to: "n2", index: 0 },
      { from: "n1", to: "n2", index: 1 },
      { from: "n2", to: "n4", index: 0 },
      { from: "n3", to: "n4", index: 1 },
    ]);
    expect(g.output).toBe("n4");
    expect(g.nodes[4]!.inputs).toEqual(["n2", "n3"]);
    expect(g.nodes[2]!.value).toMatchObject({ shape: [], dtype: "float64", size: 1, values: [3] });
    expect(g.hasGradients).toBe(false);
    expect(g.nodes.every((n) => n.grad === undefined)).toBe(true);
    // The same code gives the same ids and names (the global node counter does not leak in).
    expect(trace(circuitA().f).nodes.map((n) => n.id + n.name)).toEqual(g.nodes.map((n) => n.id + n.name));
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
  });

  it("after a backward inside withGraphValues: every value's gradient, each wire's share, the visiting order", () => {
    const { f } = circuitA();
    withGraphValues(() => f.backward());
    const g = trace(f);
    expect(g.hasGradients).toBe(true);
    expect(Object.fromEntries(g.nodes.map((n) => [n.name, n.grad!.values![0]]))).toEqual({ x: -4, y: -4, q: -4, z: 3, f: 1 });
    expect(g.edges.map((e) => e.grad!.values![0])).toEqual([-4, -4, -4, 3]);
    expect(g.backwardOrder).toEqual(["n4", "n2"]);
    expect(g.nodes[4]!.visit).toBe(1);
    expect(g.warnings).toEqual([]);
  });

  it("without withGraphValues, backward releases the graph: trace says so; retainGraph keeps leaves' gradients", () => {
    const a = circuitA();
    a.f.backward();
    const released = trace(a.f);
    expect(released.nodes).toHaveLength(1);
    expect(released.warnings[0]).toMatch(/released by backward\(\).*withGraphValues/);

    const b = circuitA();
    b.f.backward({ retainGraph: true });
    const kept = trace(b.f);
    expect(kept.nodes).toHaveLength(5);
    expect(kept.nodes.find((n) => n.name === "x")!.grad!.values).toEqual([-4]);
    expect(kept.nodes.find((n) => n.name === "q")!.grad).toBeUndefined(); // intermediate: not kept
  });

  it("a plain number is a constant node per use; a value used twice has two wires", () => {
    const x = s(3, "x");
    const g = trace(x.mul(x).add(1));
    expect(g.nodes.map((n) => n.kind)).toEqual(["input", "op", "constant", "op"]);
    expect(g.edges.filter((e) => e.from === "n0")).toHaveLength(2);
  });

  it("records Module paths inside withGraphValues and names parameters after them", () => {
    const model = nn.mlp([4, 3, 2], { dtype: "float64", generator: new Generator(1) });
    model.namedParameters();
    const x = randn([5, 4], { dtype: "float64", generator: new Generator(2) }).named("x");
    const y = randint(0, 2, [5], { dtype: "int32", generator: new Generator(3) });
    const loss = withGraphValues(() => {
      const l = nn.functional.crossEntropy(model.forward(x), y);
      l.backward();
      return l;
    });
    const g = trace(loss);
    const ops = g.nodes.filter((n) => n.kind === "op");
    expect(ops.map((n) => [n.op, n.module ?? null])).toEqual([
      ["matmul", "0"],
      ["add", "0"],
      ["relu", "1"],
      ["matmul", "2"],
      ["add", "2"],
      ["crossEntropy", null],
    ]);
    expect(ops[0]!.scopes).toEqual([{ name: "0", kind: "module", type: "Linear", call: 1 }]);
    expect(g.nodes.filter((n) => n.kind === "input").map((n) => n.name)).toEqual(["x", "0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(g.nodes.every((n) => n.kind !== "input" || n.name === "x" || n.grad !== undefined)).toBe(true);
  });

  it("nested module paths in a custom model; nothing recorded outside a capture", () => {
    class Net extends nn.Module {
      layers = [new nn.Linear(3, 3), new nn.Linear(3, 2)];
      forward(x: Tensor): Tensor {
        return this.layers[1]!.forward(this.layers[0]!.forward(x).tanh());
      }
    }
    const net = new Net().to("float64");
    expect(net.namedParameters()[0]![1].label).toBe("layers.0.weight");
    const x = randn([2, 3], { dtype: "float64" });
    const out = withGraphValues(() => net.forward(x).sum());
    const modules = trace(out).nodes.filter((n) => n.kind === "op").map((n) => n.module ?? null);
    expect(modules).toEqual(["layers.0", "layers.0", null, "layers.1", "layers.1", null]);
    const plain = net.forward(x).sum();
    expect("trace" in plain.gradFn!).toBe(false);
    expect(trace(plain).nodes.every((n) => n.scopes.length === 0)).toBe(true);
  });

  it("scope(name, fn) marks the gates created inside, nested", () => {
    const x = s(1, "x");
    const out = scope("outer", () => scope("sigmoid", () => x.neg().exp().add(1).reciprocal()).mul(2));
    const g = trace(out);
    const names = g.nodes.filter((n) => n.kind === "op").map((n) => n.scopes.map((sc) => sc.name).join("/"));
    expect(names).toEqual(["outer/sigmoid", "outer/sigmoid", "outer/sigmoid", "outer/sigmoid", "outer"]);
  });
});

describe("toDot: the lecture's pictures", () => {
  it("green values on the wires, red gradients under them, a legend; 'no gradient yet' before backward", () => {
    const { f } = circuitA();
    const before = toDot(f);
    expect(before).toContain("no gradient yet");
    expect(before).not.toContain("#c62828\">-4"); // no red numbers
    expect(before).toMatch(/n0 -> n2 \[label=<<font color="#1b7f3b">-2<\/font>>\]/);
    withGraphValues(() => f.backward());
    const after = toDot(f);
    expect(after).not.toContain("no gradient yet");
    expect(after).toContain(`n0 -> n2 [label=<<font color="#1b7f3b">-2</font><br/><font color="#c62828">-4</font>>];`);
    expect(after).toContain(`n4 -> out [label=<<font color="#1b7f3b">-12</font><br/><font color="#c62828">1</font>>];`);
    expect(after).toContain("green: forward value on each wire");
    expect(after).toContain("red: gradient ∂f/∂value");
  });

  it("a value feeding one gate twice (W·W, too big to sum from its summary) gets one wire per input, each with its gradient", () => {
    const W = randn([5, 5], { requiresGrad: true, generator: new Generator(3) }).named("W");
    const f = withGraphValues(() => {
      const out = W.mul(W).sum();
      out.backward();
      return out;
    });
    const dot = toDot(f);
    expect(dot).not.toContain("no gradient");
    const wires = dot.split("\n").filter((l) => /^ {2}n\d+ -> n\d+ \[label=<<font color="#1b7f3b">5×5 /.test(l));
    expect(wires).toHaveLength(2);
    for (const wire of wires) expect(wire).toMatch(/<font color="#c62828">5×5 min/);
  });

  it("folds scalar constants into the gate (+1, *-1, 1/x) and summarises tensors", () => {
    const { w0, x0, w1, x1, w2 } = neuronLeaves();
    const dot = toDot(w0.mul(x0).add(w1.mul(x1)).add(w2).mul(-1).exp().add(1).reciprocal());
    for (const label of ["label=<+1>", "label=<*-1>", "label=<1/x>", "label=<exp>"]) expect(dot).toContain(label);
    const big = toDot(randn([3, 5], { requiresGrad: true }).named("A").sum());
    expect(big).toMatch(/3×5 min -?\d\.\d+ mean -?\d\.\d+ max -?\d\.\d+/);
  });

  it("collapses a scope into one gate (the sigmoid as one gate) and a module on request", () => {
    const { w0, x0, w1, x1, w2 } = neuronLeaves();
    const f = withGraphValues(() => {
      const d = w0.mul(x0).add(w1.mul(x1)).add(w2);
      const out = scope("sigmoid", () => d.mul(-1).exp().add(1).reciprocal());
      out.backward();
      return out;
    });
    const open = toDot(f);
    expect(open).toContain("label=<exp>");
    expect(open).toMatch(/subgraph cluster_\d+ \{\n\s+label=<sigmoid>/);
    const closed = toDot(f, { collapse: ["sigmoid"] });
    expect(closed).not.toContain("label=<exp>");
    expect(closed).toContain("<b>sigmoid</b><br/><font point-size=\"9\">4 gates: mul, exp, add, div</font>");
    // The gradient entering the collapsed gate is the one the lecture writes under its input: 0.20.
    expect(closed).toMatch(/-> g0 \[label=<<font color="#1b7f3b">1<\/font><br\/><font color="#c62828">0\.20<\/font>>\]/);

    const model = nn.mlp([3, 4, 2], { generator: new Generator(0) });
    model.namedParameters();
    const loss = withGraphValues(() => model.forward(randn([2, 3])).sum());
    const byLayer = toDot(loss, { collapseModules: true });
    expect(byLayer).toContain("<b>0: Linear</b>");
    expect(byLayer).toContain("<b>1: ReLU</b>");
    expect(byLayer).not.toContain("label=<matmul>");
    const expanded = toDot(loss, { collapseModules: true, expand: ["0"] });
    expect(expanded).not.toContain("<b>0: Linear</b>");
    expect(expanded).toContain("label=<matmul>");
    expect(expanded).toContain("<b>2: Linear</b>");
  });

  it("maxNodes and maxDepth leave a '… N more nodes' marker", () => {
    const { w0, x0, w1, x1, w2 } = neuronLeaves();
    const f = w0.mul(x0).add(w1.mul(x1)).add(w2).mul(-1).exp().add(1).reciprocal();
    // Drawn nodes: 8 gates (constants folded) + 5 leaves = 13.
    expect(toDot(f)).not.toContain("more node");
    const limited = toDot(f, { maxNodes: 4 });
    expect(limited).toContain(`label="… 9 more nodes"`);
    expect(limited.match(/ -> more| more -> /g)).toHaveLength(1);
    // Depth 0 is the output's gate (1/x), depth 1 the +1 gate feeding it.
    const shallow = toDot(f, { maxDepth: 1 });
    expect(shallow).toContain(`label="… 11 more nodes"`);
    expect(shallow).toContain("label=<+1>");
    expect(shallow).not.toContain("label=<exp>");
  });
});

describe("toSvg and toPng", () => {
  it("renders the SVG with every node's label", async () => {
    const { f } = circuitA();
    withGraphValues(() => f.backward());
    const svg = await toSvg(f, { title: "f = (x + y) z" });
    expect(svg).toContain("<svg");
    // Graphviz writes "-" as "&#45;" in SVG text.
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&#45;/g, "-"));
    for (const label of ["x", "y", "z", "+", "*", "f", "-12", "-4", "3", "f = (x + y) z"]) expect(texts).toContain(label);
  });

  it("renders a collapsed model graph and writes PNG bytes", async () => {
    const model = nn.mlp([3, 4, 2], { generator: new Generator(0) });
    model.namedParameters();
    const loss = withGraphValues(() => {
      const l = model.forward(randn([2, 3]).named("x")).sum();
      l.backward();
      return l;
    });
    const g = trace(loss);
    const svg = await toSvg(g, { collapseModules: true });
    for (const label of ["0: Linear", "1: ReLU", "2: Linear", "0.weight", "2.bias", "x"]) expect(svg).toContain(`>${label}</text>`);
    const png = await nodeViz.toPng(g, { collapseModules: true, density: 72 });
    expect([...png.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });
});

describe("the expression language", () => {
  const value = (src: string, values: Record<string, number> = {}): number => buildExpression(src, values).output.item();

  it("precedence, unary minus, powers, functions, and the × ÷ spellings", () => {
    expect(value("(x+y)*z", { x: -2, y: 5, z: -4 })).toBe(-12);
    expect(value("x + y * z", { x: 1, y: 2, z: 3 })).toBe(7);
    expect(value("-x^2", { x: 3 })).toBe(-9);
    expect(value("2^-1")).toBe(0.5);
    expect(value("2^3^2")).toBe(512);
    expect(value("x × y ÷ 4 − 1", { x: 2, y: 6 })).toBe(2);
    expect(value("max(x, 2*y) - min(x, y) + relu(-x) + tanh(0)", { x: 1, y: 3 })).toBe(5);
    expect(value("sigmoid(0) + exp(0) + log(1)")).toBe(1.5);
    const { output, inputs } = buildExpression("x*x", { x: 3 });
    output.backward();
    expect(inputs.x!.grad!.item()).toBe(6);
    expect(parseExpression("(x+y)*z + x").variables).toEqual(["x", "y", "z"]);
  });

  const error = (fn: () => unknown): InstanceType<typeof ExpressionError> => {
    try {
      fn();
    } catch (e) {
      if (e instanceof ExpressionError) return e;
      throw e;
    }
    throw new Error("no error");
  };

  it("errors point at the column with a caret", () => {
    const unknown = error(() => parseExpression("x + y * w", { variables: ["x", "y"] }));
    expect(unknown.message).toBe("unknown variable 'w' (known: x, y) at column 9\n  x + y * w\n          ^");
    expect(unknown).toBeInstanceOf(ValueError);
    expect(error(() => parseExpression("(x+y")).message).toBe("unbalanced parenthesis: '(' is never closed; add the missing ')' at column 1\n  (x+y\n  ^");
    expect(error(() => parseExpression("x+y)")).message).toMatch(/^unbalanced parenthesis: '\)' without a matching '\('; remove it or add the '\(' it closes at column 4\n {2}x\+y\)\n {5}\^$/);
    expect(error(() => parseExpression("max(x, (y)")).column).toBe(4);
    expect(error(() => buildExpression("x + y * w", { x: 1, y: 2 })).message).toBe("missing value for variable 'w' at column 9\n  x + y * w\n          ^");
    expect(error(() => parseExpression("x y")).message).toMatch(/^unexpected 'y' after a complete expression at column 3/);
    expect(error(() => parseExpression("x + 1 2")).column).toBe(7);
    expect(error(() => parseExpression("x $ y")).reason).toMatch(/^unexpected character '\$' \(the language has numbers, names, \+ - \* \/ \^, parentheses and exp, log/);
    expect(error(() => parseExpression("foo(x)")).reason).toMatch(/^unknown function 'foo'/);
    expect(error(() => parseExpression("max(x)")).reason).toBe("max takes 2 arguments, got 1");
    expect(error(() => parseExpression("exp + 1")).reason).toBe("'exp' is a function: write exp(…)");
    expect(error(() => parseExpression("x *")).reason).toBe("the expression ends too early: a value is missing after '*'; complete it or remove the operator");
    expect(error(() => parseExpression("  ")).reason).toBe('empty expression: give a formula, e.g. "(x+y)*z"');
    expect(() => buildExpression("x+y", { x: 1, y: 2, q: 3 })).toThrow(/unknown variable 'q'.*uses only x, y/);
  });
});

describe("examples/viz.ts", () => {
  it("prints the lecture's explanations and writes the four figures", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-viz-ex-"));
    try {
      const lines: string[] = [];
      await vizExamples(dir, (line) => lines.push(line));
      const text = lines.join("\n");
      expect(text).toContain("gradients: dx = -4.00, dy = -4.00, dz = 3.00");
      expect(text).toContain("gradients: dw0 = -0.20, dx0 = 0.39, dw1 = -0.39, dx1 = -0.59, dw2 = 0.20");
      for (const name of ["circuit.svg", "neuron.svg", "neuron-sigmoid-gate.svg", "two-layer-net.svg"]) expect(readFileSync(join(dir, name), "utf8")).toContain("<svg");
      expect(readFileSync(join(dir, "neuron-sigmoid-gate.svg"), "utf8")).toContain(">sigmoid</text>");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the CLI: chainrule explain and chainrule graph", () => {
  const dir = mkdtempSync(join(tmpdir(), "chainrule-viz-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const capture = (): CliIO & { text: () => string; errors: () => string } => {
    let out = "";
    let err = "";
    return { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, text: () => out, errors: () => err };
  };

  it("explain \"(x+y)*z\" --x -2 --y 5 --z -4 --svg: the explanation and the picture", async () => {
    const io = capture();
    const svgFile = join(dir, "circuit.svg");
    expect(await run(["explain", "(x+y)*z", "--x", "-2", "--y", "5", "--z", "-4", "--svg", svgFile], io)).toBe(0);
    expect(io.text()).toContain("1. mul(x+y = 3.00, z = -4.00) = -12.00: upstream 1.00 × local z = -4.00 → d(x+y) = -4.00");
    expect(io.text()).toContain("gradients: dx = -4.00, dy = -4.00, dz = 3.00");
    expect(readFileSync(svgFile, "utf8")).toContain("<svg");
    const assigned = capture();
    expect(await run(["explain", "--x=-2", "(x+y)*z", "y=5", "--z", "-4", "--digits", "1"], assigned)).toBe(0);
    expect(assigned.text()).toContain("gradients: dx = -4.0, dy = -4.0, dz = 3.0");
  });

  it("explain: a missing or unknown variable is a usage error (exit 2) naming the position", async () => {
    const io = capture();
    expect(await run(["explain", "x + y * w", "--x", "1", "--y", "2"], io)).toBe(2);
    expect(io.errors()).toContain("missing value for variable 'w' at column 9");
    expect(io.errors()).toContain("--w <number>");
    const unknown = capture();
    expect(await run(["explain", "x+y", "--x", "1", "--y", "2", "--q", "3"], unknown)).toBe(2);
    expect(unknown.errors()).toContain("unknown variable 'q'");
  });

  it("graph: the default model's loss collapsed by layer", async () => {
    const io = capture();
    const file = join(dir, "graph.svg");
    expect(await run(["graph", "--out", file, "--inputs", "6", "--hidden", "4", "--classes", "3", "--batch", "2"], io)).toBe(0);
    const svg = readFileSync(file, "utf8");
    for (const label of ["0: Linear", "1: ReLU", "2: Linear", "crossEntropy", "0.weight", "x"]) expect(svg).toContain(`>${label}</text>`);
    expect(io.text()).toMatch(/wrote .*graph\.svg \(svg\): 6 gates in 3 modules, each module drawn as one gate/);
    const json = join(dir, "graph.json");
    expect(await run(["graph", "--out", json, "--inputs", "6", "--hidden", "4", "--classes", "3", "--batch", "2"], capture())).toBe(0);
    expect(JSON.parse(readFileSync(json, "utf8")).format).toBe("chainrule.trace/1");
  });
});
