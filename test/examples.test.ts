import { describe, expect, it } from "vitest";
import { main } from "../examples/lecture.js";

describe("examples/lecture.ts", () => {
  const lines: string[] = [];
  main((line) => lines.push(line));
  const text = lines.join("\n");
  const section = (label: string): string => {
    const start = text.indexOf(label);
    const end = text.indexOf("\n\n", start);
    return text.slice(start, end < 0 ? undefined : end);
  };

  it("prints a short, readable report", () => {
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.length).toBeLessThan(70);
    expect(text).not.toMatch(/NaN|FAILED|NO\b/);
  });

  it("(a) f = (x + y)·z: q = 3, f = -12, df/dz = 3, df/dq = df/dx = df/dy = -4", () => {
    const a = section("(a)");
    expect(a).toContain("q = x + y = 3");
    expect(a).toContain("f = q · z = -12");
    expect(a).toContain("df/dz = q = 3");
    expect(a).toContain("df/dq = z = -4");
    expect(a).toMatch(/df\/dx = .* = -4\n/);
    expect(a).toMatch(/df\/dy = .* = -4 .*add gate distributes/);
    expect(a).toMatch(/gradcheck: ok/);
  });

  it("(b) sigmoid neuron: every gate's value and gradient, then one defineOp gate with the same gradients", () => {
    const b = section("(b)");
    expect(b).toMatch(/w·x \+ w2\s+1\s+0\.20/);
    expect(b).toMatch(/·\(-1\)\s+-1\s+-0\.20/);
    expect(b).toMatch(/exp\s+0\.37\s+-0\.53/);
    expect(b).toMatch(/1 \+ …\s+1\.37\s+-0\.53/);
    expect(b).toMatch(/1 \/ … = f\s+0\.73\s+1/);
    expect(b).toContain("0.73 · 0.27 = 0.20");
    const gradLines = b.split("\n").filter((l) => l.includes("df/dw ="));
    expect(gradLines).toHaveLength(2);
    for (const l of gradLines) expect(l).toContain("df/dw = [-0.20, -0.39, 0.20]    df/dx = [0.39, -0.59]");
    expect(b).toContain("same gradients as the five gates: yes");
    expect(b).toMatch(/gradcheck \(five gates\): ok/);
    expect(b).toMatch(/gradcheck \(sigmoidGate\): ok/);
  });

  it("(c) f = ||W x||²: q = [0.22, 0.26], f = 0.116, ∇W = 2 q xᵀ, ∇x = 2 Wᵀ q", () => {
    const c = section("(c)");
    expect(c).toContain("q = W·x = [0.22, 0.26]");
    expect(c).toContain("f = 0.116");
    expect(c).toContain("df/dq = 2q = [0.44, 0.52]");
    expect(c).toContain("∇W = 2 q xᵀ = [[0.088, 0.176], [0.104, 0.208]]");
    expect(c).toContain("(equals 2 q xᵀ: yes)");
    expect(c).toContain("∇x = 2 Wᵀ q = [-0.112, 0.636]");
    expect(c).toContain("(equals 2 Wᵀ q: yes)");
    expect(c).toMatch(/gradcheck: ok/);
  });
});

describe("examples/cnn.ts (docs/cnn.md's worked example)", () => {
  it("trains a convnet that beats chance by far on a subset, saves it and reloads the same predictions", async () => {
    const { main: cnn } = await import("../examples/cnn.js");
    const r = cnn({ trainSize: 2000, testSize: 300, epochs: 2 });
    expect(r.accuracy).toBeGreaterThan(0.8);
    expect(r.reloadedAccuracy).toBe(r.accuracy);
  }, 120_000);
});
