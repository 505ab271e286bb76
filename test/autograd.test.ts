import { afterEach, describe, expect, it } from "vitest";
import {
  AnomalyError,
  Generator,
  GraphError,
  Tensor,
  ValueError,
  defineOp,
  detectAnomaly,
  enableGrad,
  grad,
  gradcheck,
  gradients,
  isAnomalyEnabled,
  isGradEnabled,
  manualSeed,
  noGrad,
  numericalGradient,
  rand,
  randint,
  randn,
  scalar,
  setDetectAnomaly,
  setGradEnabled,
  tensor,
  valueAndGrad,
} from "../src/index.js";

const f64 = (data: number | number[] | number[][], requiresGrad = true): Tensor => tensor(data, { dtype: "float64", requiresGrad });

/** Elementwise closeness of two nested arrays (or numbers). */
function expectClose(actual: unknown, expected: unknown, digits = 10): void {
  if (typeof expected === "number") {
    expect(typeof actual).toBe("number");
    expect(actual as number).toBeCloseTo(expected, digits);
    return;
  }
  expect(Array.isArray(actual)).toBe(true);
  const a = actual as unknown[];
  const e = expected as unknown[];
  expect(a.length).toBe(e.length);
  a.forEach((v, i) => expectClose(v, e[i], digits));
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw, but nothing was thrown");
}

// Every test leaves the global modes as it found them; this catches a test (or the library) that does not.
afterEach(() => {
  expect(isGradEnabled()).toBe(true);
  expect(isAnomalyEnabled()).toBe(false);
});

// ------------------------------------------------------------------ CS231n lecture examples

describe("CS231n: f = (x + y) z", () => {
  it("gives df/dx = -4, df/dy = -4, df/dz = 3 at x = -2, y = 5, z = -4", () => {
    const x = f64(-2);
    const y = f64(5);
    const z = f64(-4);
    const q = x.add(y).retainGrad();
    const f = q.mul(z);
    expect(f.item()).toBe(-12);
    f.backward();
    expect(x.grad!.item()).toBe(-4);
    expect(y.grad!.item()).toBe(-4);
    expect(z.grad!.item()).toBe(3);
    // The intermediate q = x + y received df/dq = z.
    expect(q.grad!.item()).toBe(-4);
    expect(f.grad).toBeNull();
  });
});

describe("CS231n: sigmoid neuron f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))", () => {
  // The lecture's sigmoid gate as one node: its local gradient σ(1 − σ) is read from the output.
  const sigmoidGate = defineOp({
    name: "sigmoidGate",
    forward(ctx, x: Tensor) {
      const out = x.neg().exp().add(1).reciprocal();
      ctx.save(out);
      return out;
    },
    backward(ctx, gradOut) {
      const out = ctx.saved as Tensor;
      return [gradOut.mul(out).mul(out.neg().add(1))];
    },
  });
  const primitive = (z: Tensor): Tensor => z.neg().exp().add(1).reciprocal();

  function neuron(sigma: (z: Tensor) => Tensor): { f: Tensor; value: number; gw: number[]; gx: number[] } {
    const w = [2, -3, -3].map((v) => scalar(v, { dtype: "float64", requiresGrad: true }));
    const x = [-1, -2].map((v) => scalar(v, { dtype: "float64", requiresGrad: true }));
    const z = w[0]!.mul(x[0]!).add(w[1]!.mul(x[1]!)).add(w[2]!);
    const f = sigma(z);
    f.backward();
    return { f, value: f.item(), gw: w.map((t) => t.grad!.item()), gx: x.map((t) => t.grad!.item()) };
  }

  it("built from primitive gates gives the lecture's gradients", () => {
    const r = neuron(primitive);
    expect(r.value).toBeCloseTo(0.7310585786, 9);
    expectClose(r.gw, [-0.196612, -0.393224, 0.196612], 6);
    expectClose(r.gx, [0.393224, -0.589836], 6);
    // The last gate is the reciprocal (1/x, implemented as div).
    expect(r.f.gradFn!.op.name).toBe("div");
  });

  it("built with one custom sigmoid gate gives identical gradients", () => {
    const prim = neuron(primitive);
    const gate = neuron(sigmoidGate);
    expect(gate.f.gradFn!.op.name).toBe("sigmoidGate");
    expect(gate.value).toBe(prim.value);
    expectClose(gate.gw, prim.gw, 14);
    expectClose(gate.gx, prim.gx, 14);
    expectClose(gate.gw, [-0.196612, -0.393224, 0.196612], 6);
    // And the built-in sigmoid agrees too.
    const builtin = neuron((z) => z.sigmoid());
    expectClose(builtin.gw, prim.gw, 14);
    expectClose(builtin.gx, prim.gx, 14);
  });
});

describe("CS231n: f(x, W) = ||W x||^2", () => {
  it("gives grad W = 2 q x^T and grad x = 2 W^T q", () => {
    const W = f64([
      [0.1, 0.5],
      [-0.3, 0.8],
    ]);
    const x = f64([0.2, 0.4]);
    const q = W.matmul(x);
    expectClose(q.toArray(), [0.22, 0.26], 12);
    const f = q.square().sum();
    expect(f.item()).toBeCloseTo(0.116, 12);
    f.backward();
    // 2 q xᵀ and 2 Wᵀ q, written out.
    expectClose(W.grad!.toArray(), [
      [0.088, 0.176],
      [0.104, 0.208],
    ], 12);
    expectClose(x.grad!.toArray(), [-0.112, 0.636], 12);
    // The same from the formulas with tensor ops.
    const qd = q.detach();
    expectClose(W.grad!.toArray(), qd.reshape([2, 1]).matmul(x.detach().reshape([1, 2])).mul(2).toArray(), 12);
    expectClose(x.grad!.toArray(), W.detach().T.matmul(qd).mul(2).toArray(), 12);
  });
});

// ------------------------------------------------------------------ accumulation, modes, graph misuse

describe("gradient accumulation", () => {
  it("sums .grad across two backward calls, and zeroGrad clears it", () => {
    const x = f64([1, 2, 3]);
    x.mul(x).sum().backward(); // 2x
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
    x.mul(3).sum().backward(); // + 3
    expect(x.grad!.toArray()).toEqual([5, 7, 9]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 3, 3]);
  });

  it("sums gradients across branches where a value is used twice", () => {
    const x = f64([1.5, -2]);
    // d/dx (x·x + (x + x)) = 2x + 2
    x.mul(x).add(x.add(x)).sum().backward();
    expect(x.grad!.toArray()).toEqual([5, -2]);
    // A diamond: a = 2x, y = a·a + a → dy/dx = (2a + 1)·2
    const z = f64(3);
    const a = z.mul(2);
    a.mul(a).add(a).backward();
    expect(z.grad!.item()).toBe(26);
  });

  it("accumulates a broadcast operand's gradient back to its own shape", () => {
    const b = f64([10, 20]);
    const m = f64([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    m.add(b).mul(m).sum().backward();
    expect(b.grad!.toArray()).toEqual([9, 12]);
    expect(b.grad!.shape).toEqual([2]);
  });

  it("does not alias the gradient given to one leaf with another leaf's .grad", () => {
    const x = f64([1, 2]);
    const y = f64([3, 4]);
    x.add(y).sum().backward();
    expect(x.grad).not.toBe(y.grad);
    x.grad!.data[0] = 100;
    expect(y.grad!.toArray()).toEqual([1, 1]);
  });
});

describe("detach, noGrad, enableGrad", () => {
  it("detach() stops the gradient and shares the data", () => {
    const x = f64([2, 3]);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(d.data).toBe(x.data);
    // y = x · stop(x): only the first factor carries gradient.
    x.mul(x.detach()).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 3]);
  });

  it("noGrad records nothing", () => {
    const x = f64([1, 2]);
    const y = noGrad(() => x.mul(2).add(1));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() => y.sum().backward()).toThrow(GraphError);
    // enableGrad inside noGrad records again.
    const z = noGrad(() => enableGrad(() => x.mul(2)));
    expect(z.requiresGrad).toBe(true);
  });

  it("noGrad restores the mode after fn throws", () => {
    expect(() =>
      noGrad(() => {
        expect(isGradEnabled()).toBe(false);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(isGradEnabled()).toBe(true);
    expect(f64([1]).mul(2).requiresGrad).toBe(true);
    // Nested: the inner scope restores the outer (disabled) mode.
    noGrad(() => {
      expect(() => enableGrad(() => { throw new Error("inner"); })).toThrow("inner");
      expect(isGradEnabled()).toBe(false);
    });
    // The flag form returns the previous setting.
    expect(setGradEnabled(false)).toBe(true);
    expect(setGradEnabled(true)).toBe(false);
  });
});

describe("backward arguments and misuse", () => {
  it("backward(gradient) on a non-scalar computes the vector-Jacobian product", () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(x); // dy/dx = diag(2x)
    y.backward(tensor([1, 0.5, -1], { dtype: "float64" }));
    expect(x.grad!.toArray()).toEqual([2, 2, -6]);
    // A float32 upstream gradient is converted to the tensor's dtype.
    const w = f64([1, 2]);
    w.mul(3).backward(tensor([1, 2]));
    expect(w.grad!.dtype).toBe("float64");
    expect(w.grad!.toArray()).toEqual([3, 6]);
  });

  it("a second backward works with retainGraph: true on the first", () => {
    const x = f64([1, 2]);
    const y = x.mul(x).sum();
    y.backward({ retainGraph: true });
    y.backward();
    expect(x.grad!.toArray()).toEqual([4, 8]);
  });

  it("without retainGraph a second backward throws a GraphError mentioning retainGraph", () => {
    const x = f64([1, 2]);
    const y = x.mul(x).exp().sum();
    y.backward();
    const e = errorOf(() => y.backward());
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toContain("retainGraph");
    // Also through a released intermediate: a new op on top of an old, released graph.
    const x2 = f64([1, 2]);
    const h = x2.mul(x2);
    h.sum().backward();
    const e2 = errorOf(() => h.mul(2).sum().backward());
    expect(e2).toBeInstanceOf(GraphError);
    expect(e2.message).toContain("retainGraph");
  });

  it("backward() on a non-scalar without a gradient throws GraphError naming the shape", () => {
    const y = f64([[1, 2, 3], [4, 5, 6]]).mul(2);
    const e = errorOf(() => y.backward());
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toContain("[2, 3]");
  });

  it("backward(gradient) with the wrong shape throws naming both shapes", () => {
    const y = f64([1, 2, 3]).mul(2);
    const e = errorOf(() => y.backward(tensor([1, 2], { dtype: "float64" })));
    expect(e.message).toContain("[2]");
    expect(e.message).toContain("[3]");
  });

  it("backward on a tensor that does not require grad throws", () => {
    expect(() => tensor([1, 2]).sum().backward()).toThrow(GraphError);
    expect(() => scalar(1).backward()).toThrow(GraphError);
  });

  it("backward on a leaf fills its own .grad", () => {
    const x = f64(3);
    x.backward();
    expect(x.grad!.item()).toBe(1);
  });
});

describe("retainGrad", () => {
  it("fills .grad of an intermediate tensor that asks for it, and only that one", () => {
    const x = f64([1, 2, 3]);
    const h = x.mul(2).retainGrad();
    const other = h.exp();
    const y = other.sum();
    y.backward();
    // dy/dh = exp(h)
    expectClose(h.grad!.toArray(), [Math.exp(2), Math.exp(4), Math.exp(6)], 10);
    expect(other.grad).toBeNull();
    expectClose(x.grad!.toArray(), [2 * Math.exp(2), 2 * Math.exp(4), 2 * Math.exp(6)], 9);
  });
});

describe("a 10^6-node-deep chain", () => {
  it(
    "runs backward without a stack overflow and gives the right gradient",
    () => {
      const N = 1_000_000;
      const c = 1 + 1e-6;
      const x = f64(1);
      let y = x;
      for (let i = 0; i < N; i++) y = y.mul(c);
      let expected = 1;
      for (let i = 0; i < N; i++) expected *= c;
      expect(y.item()).toBeCloseTo(expected, 10);
      y.backward();
      // d/dx (x c^N) = c^N ≈ e; a node skipped or visited twice would be off by a factor c.
      expect(Math.abs(x.grad!.item() - expected)).toBeLessThan(1e-9);
      expect(expected).toBeCloseTo(Math.E, 5);
    },
    180_000,
  );
});

// ------------------------------------------------------------------ higher order

describe("higher-order gradients", () => {
  it("backward({ createGraph: true }) makes x.grad differentiable: d²/dx² x³ = 6x", () => {
    const x = f64([2, -1.5]);
    x.mul(x).mul(x).sum().backward({ createGraph: true });
    const g = x.grad!;
    expect(g.toArray()).toEqual([12, 6.75]); // 3x²
    expect(g.requiresGrad).toBe(true);
    x.zeroGrad();
    g.sum().backward();
    expect(x.grad!.toArray()).toEqual([12, -9]); // 6x
    // pow takes the same route.
    const z = f64(0.5);
    const [dz] = gradients(z.pow(3), [z], { createGraph: true });
    const [d2z] = gradients(dz!, [z]);
    expect(d2z!.item()).toBeCloseTo(3, 12);
  });

  it("Hessian-vector product of sum(tanh(x)³) matches the analytic one", () => {
    const xs = [0.3, -0.7, 1.2, 0];
    const vs = [1, 2, -0.5, 3];
    const x = f64(xs);
    const v = tensor(vs, { dtype: "float64" });
    const t = x.tanh();
    const f = t.mul(t).mul(t).sum();
    const [g] = gradients(f, [x], { createGraph: true });
    const [hv] = gradients(g!.mul(v).sum(), [x]);
    // f = Σ tanh³: ∂f/∂xᵢ = 3t²(1 − t²); the Hessian is diagonal with (6t − 12t³)(1 − t²).
    const tt = xs.map(Math.tanh);
    expectClose(g!.toArray(), tt.map((s) => 3 * s * s * (1 - s * s)), 12);
    expectClose(hv!.toArray(), tt.map((s, i) => (6 * s - 12 * s ** 3) * (1 - s * s) * vs[i]!), 12);
  });

  it("grad and valueAndGrad with argnums as a number and as a list", () => {
    const f = (a: Tensor, b: Tensor): Tensor => a.mul(b.square()).sum();
    const a = tensor([1, 2], { dtype: "float64" });
    const b = tensor([3, -4], { dtype: "float64" });
    expect(grad(f)(a, b).toArray()).toEqual([9, 16]); // default argnums 0: b²
    expect(grad(f, 1)(a, b).toArray()).toEqual([6, -16]); // 2ab
    const both = grad(f, [0, 1])(a, b);
    expect(both.map((t) => t.toArray())).toEqual([
      [9, 16],
      [6, -16],
    ]);
    const [value, db] = valueAndGrad(f, 1)(a, b);
    expect(value.item()).toBe(41);
    expect(db.toArray()).toEqual([6, -16]);
    const [value2, grads] = valueAndGrad(f, [1, 0])(a, b);
    expect(value2.item()).toBe(41);
    expect(grads.map((t) => t.toArray())).toEqual([
      [6, -16],
      [9, 16],
    ]);
    // Misuse is reported.
    expect(() => grad((p: Tensor) => p.mul(2))(a)).toThrow(GraphError); // non-scalar value
    expect(() => grad(f, 2)(a, b)).toThrow(ValueError); // argnums out of range
    // The caller's tensors are left alone.
    expect(a.requiresGrad).toBe(false);
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
  });

  it("grad(grad(f)) gives the second derivative of a scalar function", () => {
    const cube = (x: Tensor): Tensor => x.mul(x).mul(x);
    expect(grad(cube)(scalar(2, { dtype: "float64" })).item()).toBe(12);
    expect(grad(grad(cube))(scalar(2, { dtype: "float64" })).item()).toBe(12); // 6x
    expect(grad(grad(grad(cube)))(scalar(2, { dtype: "float64" })).item()).toBe(6);
    // tanh'' = −2 tanh (1 − tanh²)
    const s = Math.tanh(0.5);
    expect(grad(grad((x: Tensor) => x.tanh()))(scalar(0.5, { dtype: "float64" })).item()).toBeCloseTo(-2 * s * (1 - s * s), 12);
  });
});

// ------------------------------------------------------------------ defineOp and gradient checking

describe("defineOp", () => {
  it("takes non-tensor arguments", () => {
    // a·x + b with a and b plain numbers.
    const affine = defineOp({
      name: "affine",
      forward(ctx, x: Tensor, a: number, b: number) {
        ctx.save(a);
        return x.mul(a).add(b);
      },
      backward(ctx, gradOut) {
        return [gradOut.mul(ctx.saved as number)];
      },
    });
    const x = f64([1, 2]);
    const y = affine(x, 3, -1);
    expect(y.toArray()).toEqual([2, 5]);
    expect(y.gradFn!.op.name).toBe("affine");
    expect(y.gradFn!.inputs).toEqual([x]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 3]);
    expect(affine.name).toBe("affine");
  });

  it("tells backward which inputs need a gradient, and ignores a gradient for one that does not", () => {
    const seen: boolean[][] = [];
    const times = defineOp({
      name: "times",
      forward(ctx, a: Tensor, b: Tensor) {
        ctx.save([a, b]);
        return a.mul(b);
      },
      backward(ctx, gradOut) {
        seen.push([...ctx.needsInputGrad]);
        const [a, b] = ctx.saved as [Tensor, Tensor];
        // Deliberately returns a gradient for b even when it needs none.
        return [gradOut.mul(b), gradOut.mul(a)];
      },
    });
    const a = f64([1, 2]);
    const b = tensor([5, 7], { dtype: "float64" });
    times(a, b).sum().backward();
    expect(seen).toEqual([[true, false]]);
    expect(a.grad!.toArray()).toEqual([5, 7]);
    expect(b.grad).toBeNull();
    // No input needs grad: nothing is recorded.
    const c = times(b, b);
    expect(c.requiresGrad).toBe(false);
    expect(c.gradFn).toBeNull();
  });

  it("finds tensor inputs inside an array argument", () => {
    const weightedSum = defineOp({
      name: "weightedSum",
      forward(ctx, xs: Tensor[], weights: number[]) {
        ctx.save(weights);
        return xs.map((t, i) => t.mul(weights[i]!)).reduce((p, q) => p.add(q));
      },
      backward(ctx, gradOut) {
        return (ctx.saved as number[]).map((w) => gradOut.mul(w));
      },
    });
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const c = tensor([5, 6], { dtype: "float64" });
    const y = weightedSum([a, c, b], [2, -1, 0.5]);
    expect(y.toArray()).toEqual([-1.5, 0]);
    expect(y.gradFn!.inputs).toEqual([a, c, b]);
    y.sum().backward();
    expect(a.grad!.toArray()).toEqual([2, 2]);
    expect(b.grad!.toArray()).toEqual([0.5, 0.5]);
    expect(c.grad).toBeNull();
  });

  it("an op that returns its input unchanged still gets its own node", () => {
    const identity = defineOp({
      name: "identity",
      forward: (_ctx, x: Tensor) => x,
      backward: (_ctx, gradOut) => [gradOut.mul(2)], // 2 to make the route visible
    });
    const x = f64([1, 2]);
    const y = identity(x);
    expect(y).not.toBe(x);
    expect(x.gradFn).toBeNull();
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 2]);
  });
});

describe("numericalGradient and gradcheck", () => {
  // x·x whose backward is deliberately wrong: 4x instead of 2x.
  const badSquare = defineOp({
    name: "badSquare",
    forward(ctx, x: Tensor) {
      ctx.save(x);
      return x.mul(x);
    },
    backward(ctx, gradOut) {
      return [gradOut.mul(ctx.saved as Tensor).mul(4)];
    },
  });

  it("numericalGradient agrees with the analytic gradient", () => {
    const f = (x: Tensor): Tensor => x.tanh().mul(x.exp()).sum();
    const x = f64([0.3, -1.1, 2]);
    const num = numericalGradient(f, x);
    f(x).backward();
    expect(num.shape).toEqual([3]);
    expect(num.dtype).toBe("float64");
    expectClose(num.toArray(), x.grad!.toArray(), 7);
    // The probe is restored: x is unchanged.
    expect(x.toArray()).toEqual([0.3, -1.1, 2]);
  });

  it("gradcheck passes for correct ops and reports small errors", () => {
    const a = f64([[0.5, -1], [2, 0.25]]);
    const b = f64([0.3, 0.7]);
    const report = gradcheck((p, q) => p.matmul(q).tanh(), [a, b]);
    expect(report.ok).toBe(true);
    expect(report.inputs.map((r) => r.input)).toEqual([0, 1]);
    for (const r of report.inputs) {
      expect(r.ok).toBe(true);
      expect(r.maxAbsError).toBeLessThan(1e-7);
      expect(r.maxRelError).toBeLessThan(1e-5);
      expect(r.worst).toBeUndefined();
    }
    expect(report.message).toMatch(/passed/);
    // The caller's tensors are not touched.
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
  });

  it("gradcheck reports a wrong custom backward, naming the input and flat element index", () => {
    const a = f64([1, 2, 3]);
    const b = f64([0, 1.5, -2]); // element 0 has gradient 0 either way: the first failure is element 1
    const report = gradcheck((p, q) => p.mul(badSquare(q)).sum(), [a, b]);
    expect(report.ok).toBe(false);
    const [ra, rb] = report.inputs;
    expect(ra!.ok).toBe(true);
    expect(rb!.ok).toBe(false);
    expect(rb!.input).toBe(1);
    expect(rb!.worst!.index).toBe(1);
    expect(rb!.worst!.analytic).toBeCloseTo(12, 10); // 4·a·b at element 1
    expect(rb!.worst!.numerical).toBeCloseTo(6, 6); // 2·a·b
    // Twice the right gradient: relative error 1/2, absolute error max |2·a·b| = 12.
    expect(rb!.maxRelError).toBeCloseTo(0.5, 6);
    expect(rb!.maxAbsError).toBeCloseTo(12, 6);
    expect(report.message).toContain("input 1");
    expect(report.message).toContain("flat index 1");
    expect(report.message).not.toContain("input 0");
  });
});

// ------------------------------------------------------------------ anomaly detection

describe("detectAnomaly", () => {
  it("throws AnomalyError naming 'log' and the line of this file that called it", () => {
    const x = f64([1, -1]);
    const e = errorOf(() => detectAnomaly(() => x.log()));
    expect(e).toBeInstanceOf(AnomalyError);
    expect(e.message).toContain("'log'");
    expect(e.message).toContain("NaN");
    expect(e.message).toMatch(/autograd\.test\.ts:\d+/);
    expect(isAnomalyEnabled()).toBe(false);
    // log(0) = −Infinity is caught too.
    const e0 = errorOf(() => detectAnomaly(() => f64([0, 1], false).log()));
    expect(e0).toBeInstanceOf(AnomalyError);
    expect(e0.message).toContain("'log'");
    expect(e0.message).toContain("-Infinity");
  });

  /** sqrt at 0: the forward is fine (√0 = 0) but its local gradient 1/(2√x) is infinite. */
  const sqrtAtZeroBackward = (): Error =>
    errorOf(() =>
      detectAnomaly(() => {
        const x = f64([0, 4]);
        const y = x.sqrt().sum();
        expect(y.item()).toBe(2);
        y.backward();
      }),
    );

  it("throws AnomalyError when backward produces an infinite gradient", () => {
    const e = sqrtAtZeroBackward();
    expect(e).toBeInstanceOf(AnomalyError);
    expect(e.message).toContain("Infinity");
    expect(e.message).toMatch(/autograd\.test\.ts:\d+/);
    expect(isAnomalyEnabled()).toBe(false);
    expect(isGradEnabled()).toBe(true);
  });

  it("names the op whose backward produced the infinite gradient ('sqrt'), not an op used inside that backward", () => {
    const e = sqrtAtZeroBackward();
    expect(e).toBeInstanceOf(AnomalyError);
    expect(e.message).toContain("backward of 'sqrt'");
    expect(e.message).toContain("gradient of its input #0");
  });

  it("does not throw outside detectAnomaly", () => {
    const x = f64([0, 4]);
    expect(Number.isNaN(x.log().sub(x.log()).data[0])).toBe(true); // −∞ − −∞
    x.sqrt().sum().backward();
    expect(x.grad!.toArray()).toEqual([Infinity, 0.25]);
    expect(tensor([-1]).log().data[0]).toBeNaN();
  });

  it("has a flag form: setDetectAnomaly", () => {
    expect(setDetectAnomaly(true)).toBe(false);
    try {
      expect(isAnomalyEnabled()).toBe(true);
      const e = errorOf(() => f64([-2]).log());
      expect(e).toBeInstanceOf(AnomalyError);
      expect(e.message).toContain("'log'");
    } finally {
      expect(setDetectAnomaly(false)).toBe(true);
    }
    expect(() => f64([-2]).log()).not.toThrow();
  });

  it("restores the flag when fn throws, and passes finite values through", () => {
    expect(() => detectAnomaly(() => { throw new Error("x"); })).toThrow("x");
    expect(isAnomalyEnabled()).toBe(false);
    const x = f64([1, 4]);
    const y = detectAnomaly(() => {
      const out = x.sqrt().log().sum();
      out.backward();
      return out;
    });
    expect(y.item()).toBeCloseTo(Math.log(2), 12);
    expectClose(x.grad!.toArray(), [0.5, 0.125], 12); // d/dx log √x = 1/(2x)
  });
});

// ------------------------------------------------------------------ deterministic random numbers

describe("deterministic RNG", () => {
  it("manualSeed(7) then randn gives the same tensor twice", () => {
    manualSeed(7);
    const a = randn([3, 5], { dtype: "float64" });
    manualSeed(7);
    const b = randn([3, 5], { dtype: "float64" });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    const c = randn([3, 5], { dtype: "float64" });
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
    // An odd count leaves a spare normal; reseeding must drop it.
    manualSeed(7);
    randn([1]);
    manualSeed(7);
    const d = randn([3, 5], { dtype: "float64" });
    expect(Array.from(d.data)).toEqual(Array.from(a.data));
  });

  it("new Generator(7) gives the same sequence as manualSeed(7)", () => {
    manualSeed(7);
    const a = randn([4], { dtype: "float64" });
    const u = rand([4], { dtype: "float64" });
    const g = new Generator(7);
    expect(Array.from(randn([4], { dtype: "float64", generator: g }).data)).toEqual(Array.from(a.data));
    expect(Array.from(rand([4], { dtype: "float64", generator: g }).data)).toEqual(Array.from(u.data));
    // A generator's own stream is untouched by the global one.
    const g1 = new Generator(1);
    const g2 = new Generator(1);
    manualSeed(99);
    randn([10]);
    expect(g1.nextUint32()).toBe(g2.nextUint32());
  });

  it("rand is in [0, 1)", () => {
    const u = rand([10000], { dtype: "float64", generator: new Generator(3) });
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of u.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / u.size).toBeGreaterThan(0.48);
    expect(sum / u.size).toBeLessThan(0.52);
  });

  it("randint stays in [low, high) and hits both ends", () => {
    const r = randint(-3, 4, [5000], { generator: new Generator(5) });
    expect(r.dtype).toBe("int32");
    const seen = new Set(r.data);
    expect([...seen].sort((p, q) => p - q)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(Array.from(randint(2, 3, [5], { generator: new Generator(0) }).data)).toEqual([2, 2, 2, 2, 2]);
    expect(() => randint(3, 3, [1])).toThrow();
  });

  it("getState / setState round-trips, including a pending normal", () => {
    const g = new Generator(11);
    g.normal(); // leaves a spare
    const state = g.getState();
    const expected = [g.normal(), g.normal(), g.random(), g.nextUint32()];
    const h = new Generator(0).setState(state);
    expect([h.normal(), h.normal(), h.random(), h.nextUint32()]).toEqual(expected);
    g.setState(state);
    expect([g.normal(), g.normal(), g.random(), g.nextUint32()]).toEqual(expected);
    expect(() => g.setState([1, 2, 3])).toThrow();
  });

  it("new Generator(42) gives these exact numbers on every platform (xoshiro128** seeded by splitmix32)", () => {
    const g = new Generator(42);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([
      2837322924, 544945897, 479756282, 3500138142, 339756180,
    ]);
    // random() uses only integer arithmetic and an exact division by 2^53: bit-identical too.
    const h = new Generator(42);
    expect([h.random(), h.random(), h.random()]).toEqual([0.6606157208001621, 0.1117019639532224, 0.0791056456144914]);
    expect(manualSeed(42).nextUint32()).toBe(2837322924);
  });
});
