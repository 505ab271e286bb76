/**
 * The synthetic 2-D datasets xor and blobs: shapes, dtypes, labels, determinism per seed, class
 * balance, their geometry, and option errors that name the function and the option.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueError, data, type Tensor } from "../src/index.js";

const { xor, blobs } = data;

const values = (t: Tensor): number[] => Array.from(t.data);
const points = (t: Tensor): [number, number][] => t.toArray() as [number, number][];
const count = (labels: number[], c: number): number => labels.filter((l) => l === c).length;

describe("xor", () => {
  it("x float32 [n, 2], y int32 [n], ⌊n/2⌋ of class 0 first, then class 1", () => {
    const ds = xor({ n: 201, seed: 3 });
    expect(ds.x.shape).toEqual([201, 2]);
    expect(ds.y.shape).toEqual([201]);
    expect([ds.x.dtype, ds.y.dtype]).toEqual(["float32", "int32"]);
    expect(values(ds.y)).toEqual([...Array(201)].map((_, k) => (k < 100 ? 0 : 1)));
    expect(xor().x.shape).toEqual([200, 2]);
  });

  it("the label is (x > 0) XOR (y > 0) without noise, and for all but a few points near the axes with small noise", () => {
    const clean = xor({ n: 400, noise: 0, seed: 1 });
    const labels = values(clean.y);
    points(clean.x).forEach(([a, b], k) => {
      expect(Math.abs(a)).toBeLessThanOrEqual(1);
      expect(Math.abs(b)).toBeLessThanOrEqual(1);
      expect(Number(a > 0 !== b > 0)).toBe(labels[k]);
    });
    const noisy = xor({ n: 400, noise: 0.02, seed: 1 });
    const agree = points(noisy.x).filter(([a, b], k) => Number(a > 0 !== b > 0) === values(noisy.y)[k]).length;
    expect(agree / 400).toBeGreaterThan(0.97);
  });

  it("every quadrant holds a quarter of the points", () => {
    const quads = points(xor({ n: 400, noise: 0 }).x).map(([a, b]) => `${a > 0 ? "+" : "-"}${b > 0 ? "+" : "-"}`);
    for (const q of ["++", "+-", "-+", "--"]) expect(quads.filter((v) => v === q).length).toBe(100);
  });

  it("is deterministic per seed, different across seeds", () => {
    expect(values(xor({ seed: 7 }).x)).toEqual(values(xor({ seed: 7 }).x));
    expect(values(xor({ seed: 7 }).x)).not.toEqual(values(xor({ seed: 8 }).x));
  });

  it("rejects bad options, naming xor and the option", () => {
    expect(() => xor({ n: 3 })).toThrow(/^xor: n must be an integer ≥ 4, got 3\./);
    expect(() => xor({ noise: -0.1 })).toThrow(/^xor: noise must be a finite number ≥ 0/);
    expect(() => xor({ seed: 1.5 })).toThrow(/^xor: seed must be an integer/);
    expect(() => xor({ classes: 2 } as never)).toThrow(/^xor: unknown option 'classes'; the options are 'n', 'noise', 'seed'/);
    expect(() => xor({ n: 3 })).toThrow(ValueError);
  });
});

describe("blobs", () => {
  it("x float32 [K·N, 2], y int32 grouped by class; default centers evenly on the unit circle", () => {
    const ds = blobs({ classes: 4, pointsPerClass: 500, std: 0.1, seed: 2 });
    expect(ds.x.shape).toEqual([2000, 2]);
    expect([ds.x.dtype, ds.y.dtype]).toEqual(["float32", "int32"]);
    expect(values(ds.y)).toEqual([...Array(2000)].map((_, k) => Math.floor(k / 500)));
    const pts = points(ds.x);
    for (let j = 0; j < 4; j++) {
      const own = pts.slice(500 * j, 500 * (j + 1));
      const mean = [0, 1].map((d) => own.reduce((s, p) => s + p[d]!, 0) / 500);
      // The mean of 500 draws of std 0.1 is within 4 standard errors (4·0.1/√500 ≈ 0.018) of the center.
      expect(Math.abs(mean[0]! - Math.cos((Math.PI * j) / 2))).toBeLessThan(0.018);
      expect(Math.abs(mean[1]! - Math.sin((Math.PI * j) / 2))).toBeLessThan(0.018);
      const sd = Math.sqrt(own.reduce((s, p) => s + (p[0]! - mean[0]!) ** 2, 0) / 499);
      expect(sd).toBeGreaterThan(0.09);
      expect(sd).toBeLessThan(0.11);
    }
    expect(blobs().x.shape).toEqual([300, 2]);
  });

  it("given centers set the classes; n splits as evenly as possible", () => {
    const ds = blobs({ centers: [[5, -5], [0, 0], [-3, 2]], n: 1001, std: 0.05, seed: 4 });
    const labels = values(ds.y);
    expect([count(labels, 0), count(labels, 1), count(labels, 2)]).toEqual([334, 334, 333]);
    const pts = points(ds.x);
    const first = pts.slice(0, 334);
    expect(first.reduce((s, p) => s + p[0], 0) / 334).toBeCloseTo(5, 1);
    expect(first.reduce((s, p) => s + p[1], 0) / 334).toBeCloseTo(-5, 1);
    expect(points(blobs({ centers: [[1, 2]], std: 0, pointsPerClass: 3 }).x)).toEqual([[1, 2], [1, 2], [1, 2]]);
  });

  it("is deterministic per seed, different across seeds", () => {
    expect(values(blobs({ seed: 11 }).x)).toEqual(values(blobs({ seed: 11 }).x));
    expect(values(blobs({ seed: 11 }).x)).not.toEqual(values(blobs({ seed: 12 }).x));
  });

  it("rejects bad options, naming blobs and the option", () => {
    expect(() => blobs({ classes: 0 })).toThrow(/^blobs: classes must be an integer ≥ 1, got 0\./);
    expect(() => blobs({ std: Number.NaN })).toThrow(/^blobs: std must be a finite number ≥ 0/);
    expect(() => blobs({ n: 2, classes: 3 })).toThrow(/^blobs: n must be an integer ≥ 3, got 2\./);
    expect(() => blobs({ pointsPerClass: 0 })).toThrow(/^blobs: pointsPerClass must be an integer ≥ 1/);
    expect(() => blobs({ n: 10, pointsPerClass: 5 })).toThrow(/^blobs: give either n or pointsPerClass, not both\./);
    expect(() => blobs({ classes: 2, centers: [[0, 0], [1, 1], [2, 2]] })).toThrow(/^blobs: classes is 2 but 3 centers were given/);
    expect(() => blobs({ centers: [[0, Infinity]] })).toThrow(/^blobs: centers must be a non-empty array of \[x, y\] pairs/);
    expect(() => blobs({ centers: [] })).toThrow(/^blobs: centers must be/);
    expect(() => blobs({ centers: [[0, 0, 0]] as never })).toThrow(/^blobs: centers must be/);
    expect(() => blobs({ seed: "1" as never })).toThrow(/^blobs: seed must be an integer/);
    expect(() => blobs({ spread: 1 } as never)).toThrow(/^blobs: unknown option 'spread'; the options are 'classes', 'pointsPerClass', 'n', 'std', 'centers', 'seed'/);
  });
});

describe("xor and blobs: properties", () => {
  it("shapes, label ranges, balance and determinism hold for any n, classes and seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 300 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: -1e9, max: 1e9 }), (n, K, seed) => {
        const x = xor({ n, seed });
        expect(x.x.shape).toEqual([n, 2]);
        const xl = values(x.y);
        expect(count(xl, 0)).toBe(Math.floor(n / 2));
        expect(count(xl, 1)).toBe(n - Math.floor(n / 2));
        const b = blobs({ n: Math.max(n, K), classes: K, seed });
        expect(b.x.shape).toEqual([Math.max(n, K), 2]);
        const sizes = Array.from({ length: K }, (_, j) => count(values(b.y), j));
        expect(sizes.reduce((s, v) => s + v, 0)).toBe(Math.max(n, K));
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(values(b.x).every(Number.isFinite)).toBe(true);
        expect(values(blobs({ n: Math.max(n, K), classes: K, seed }).x)).toEqual(values(b.x));
      }),
      { numRuns: 60 },
    );
  });
});
