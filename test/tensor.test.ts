import { describe, expect, it } from "vitest";
import {
  DTypeError,
  GraphError,
  IndexError,
  ShapeError,
  Tensor,
  add,
  arange,
  concat,
  eye,
  full,
  linspace,
  ones,
  onesLike,
  promoteTypes,
  scalar,
  tensor,
  zeros,
  zerosLike,
  type DType,
} from "../src/index.js";

/** Runs `fn`, expects it to throw an instance of `type`, and returns the error for message checks. */
function thrown<E extends Error>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as E;
  }
  throw new Error(`expected ${type.name} to be thrown, but nothing was thrown`);
}

describe("creation", () => {
  it("infers the shape of nested arrays and defaults to float32", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const t3 = tensor([[[1], [2]], [[3], [4]]]);
    expect(t3.shape).toEqual([2, 2, 1]);
    expect(Array.from(t3.data)).toEqual([1, 2, 3, 4]);
  });

  it("takes typed arrays with a shape, keeping Float64Array and Int32Array dtypes", () => {
    const f64 = tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(f64.dtype).toBe("float64");
    expect(f64.shape).toEqual([3, 2]);
    expect(f64.toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const i32 = tensor(new Int32Array([7, -8]));
    expect(i32.dtype).toBe("int32");
    expect(i32.shape).toEqual([2]);
    expect(tensor(new Float32Array([0.5])).dtype).toBe("float32");
    // A flat list with a shape, too.
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it("copies its input data", () => {
    const src = new Float32Array([1, 2]);
    const t = tensor(src);
    src[0] = 100;
    expect(t.toArray()).toEqual([1, 2]);
  });

  it("makes a 0-d tensor from a number and a bool tensor from booleans", () => {
    const s = tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.ndim).toBe(0);
    expect(s.size).toBe(1);
    expect(s.item()).toBe(3.5);
    const b = tensor([true, false, true]);
    expect(b.dtype).toBe("bool");
    expect(b.toArray()).toEqual([true, false, true]);
    expect(tensor(true).dtype).toBe("bool");
  });

  it("stores bool as 0/1 meaning x != 0, whatever number it is given", () => {
    // Regression: numbers were stored as-is in the Uint8Array, so 2 stayed 2 and 256 wrapped to false.
    const b = tensor([0, 2, 256, 0.5, -1], { dtype: "bool" });
    expect(b.toArray()).toEqual([false, true, true, true, true]);
    expect(Array.from(b.data)).toEqual([0, 1, 1, 1, 1]);
    expect(Array.from(tensor(new Float32Array([0, 256, 0.25]), { dtype: "bool" }).data)).toEqual([0, 1, 1]);
    expect(Array.from(full([2], 256, { dtype: "bool" }).data)).toEqual([1, 1]);
  });

  it("rejects ragged nested arrays with a ShapeError naming the offending position", () => {
    const e = thrown(ShapeError, () => tensor([[1, 2], [3]]));
    expect(e.message).toMatch(/ragged/);
    expect(e.message).toContain("[1]");
    expect(() => tensor([1, [2, 3]] as unknown as number[])).toThrow(ShapeError);
  });

  it("rejects a shape that does not match the data size", () => {
    const e = thrown(ShapeError, () => tensor(new Float32Array(6), { shape: [4] }));
    expect(e.message).toContain("[4]");
    expect(e.message).toContain("6");
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(ShapeError);
  });

  it("scalar, zeros, ones and full", () => {
    const s = scalar(2.5, { dtype: "float64" });
    expect(s.shape).toEqual([]);
    expect(s.dtype).toBe("float64");
    expect(s.item()).toBe(2.5);
    expect(zeros([2, 3]).toArray()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(ones([3]).toArray()).toEqual([1, 1, 1]);
    const f = full([2, 2], 7, { dtype: "int32" });
    expect(f.dtype).toBe("int32");
    expect(f.toArray()).toEqual([
      [7, 7],
      [7, 7],
    ]);
    expect(zeros([0, 4]).size).toBe(0);
    expect(zeros([]).shape).toEqual([]);
  });

  it("arange with one, two and three arguments", () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3, 3).shape).toEqual([0]);
    const d = arange(0, 0.3, 0.1, { dtype: "float64" });
    expect(d.dtype).toBe("float64");
    expect(d.size).toBe(3); // like torch.arange: 0, 0.1, 0.2
    expect(arange(4, undefined, 1, { dtype: "int32" }).dtype).toBe("int32");
  });

  it("linspace includes both ends", () => {
    expect(linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(-1, 1, 3, { dtype: "float64" }).toArray()).toEqual([-1, 0, 1]);
    expect(linspace(2, 3, 1).toArray()).toEqual([2]);
    expect(linspace(0, 1, 0).shape).toEqual([0]);
    const l = linspace(0, 0.3, 4, { dtype: "float64" });
    expect(l.data[3]).toBe(0.3); // exactly the end, not 3 * 0.1
  });

  it("eye, square and rectangular", () => {
    expect(eye(3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(eye(3, 2).toArray()).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
    ]);
    const e = eye(2, 2, { dtype: "float64", requiresGrad: true });
    expect(e.dtype).toBe("float64");
    expect(e.requiresGrad).toBe(true);
  });

  it("zerosLike and onesLike keep shape and dtype unless told otherwise", () => {
    const src = tensor([[1, 2, 3]], { dtype: "int32" });
    const z = zerosLike(src);
    expect(z.shape).toEqual([1, 3]);
    expect(z.dtype).toBe("int32");
    expect(z.toArray()).toEqual([[0, 0, 0]]);
    const o = onesLike(src, { dtype: "float64" });
    expect(o.dtype).toBe("float64");
    expect(o.toArray()).toEqual([[1, 1, 1]]);
  });

  it("honours the dtype option", () => {
    for (const dtype of ["float32", "float64", "int32", "bool"] as DType[]) {
      expect(tensor([1, 0], { dtype }).dtype).toBe(dtype);
      expect(zeros([2], { dtype }).dtype).toBe(dtype);
    }
    expect(tensor([1.9, -1.9], { dtype: "int32" }).toArray()).toEqual([1, -1]);
    expect(() => tensor([1], { dtype: "float16" as DType })).toThrow(DTypeError);
  });

  it("allows requiresGrad only on float tensors", () => {
    expect(tensor([1], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(tensor([1], { dtype: "float64", requiresGrad: true }).requiresGrad).toBe(true);
    const e = thrown(GraphError, () => tensor([1], { dtype: "int32", requiresGrad: true }));
    expect(e.message).toContain("int32");
    expect(() => tensor([true], { requiresGrad: true })).toThrow(GraphError);
    expect(() => zeros([2], { dtype: "int32" }).requiresGrad_()).toThrow(GraphError);
  });
});

describe("reading", () => {
  it("shape, dtype, size and ndim", () => {
    const t = zeros([2, 3, 4], { dtype: "float64" });
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.dtype).toBe("float64");
    expect(t.size).toBe(24);
    expect(t.ndim).toBe(3);
    const s = scalar(1);
    expect([s.size, s.ndim]).toEqual([1, 0]);
  });

  it("toArray gives nested arrays, booleans for bool, a number for 0-d", () => {
    expect(arange(6).reshape([2, 3]).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(tensor([[true], [false]]).toArray()).toEqual([[true], [false]]);
    expect(tensor([1, 0, 2]).to("bool").toArray()).toEqual([true, false, true]);
    expect(scalar(4).toArray()).toBe(4);
    expect(zeros([2, 0]).toArray()).toEqual([[], []]);
  });

  it("item() reads a one-element tensor and throws ShapeError naming the shape otherwise", () => {
    expect(tensor([[5]]).item()).toBe(5);
    expect(scalar(-2).item()).toBe(-2);
    const e = thrown(ShapeError, () => tensor([[1, 2], [3, 4]]).item());
    expect(e.message).toContain("item");
    expect(e.message).toContain("[2, 2]");
  });

  it("stores each dtype in its typed array", () => {
    expect(tensor([1], { dtype: "float32" }).data).toBeInstanceOf(Float32Array);
    expect(tensor([1], { dtype: "float64" }).data).toBeInstanceOf(Float64Array);
    expect(tensor([1], { dtype: "int32" }).data).toBeInstanceOf(Int32Array);
    expect(tensor([true]).data).toBeInstanceOf(Uint8Array);
  });
});

describe("toString", () => {
  it("prints a 2x2 float32 like PyTorch", () => {
    expect(
      tensor([
        [1, 2],
        [3, 4],
      ]).toString(),
    ).toBe("tensor([[1., 2.],\n        [3., 4.]])");
  });

  it("prints dtype and requiresGrad for a float64 leaf", () => {
    expect(tensor([1.5, 2], { dtype: "float64", requiresGrad: true }).toString()).toBe(
      "tensor([1.5000, 2.0000], dtype=float64, requiresGrad=true)",
    );
  });

  it("prints the gradFn of a computed tensor", () => {
    expect(tensor([1, 2], { requiresGrad: true }).mul(2).toString()).toBe("tensor([2., 4.], gradFn=<mul>)");
  });

  it("prints int32, bool and 0-d tensors", () => {
    expect(tensor([1, -2, 30], { dtype: "int32" }).toString()).toBe("tensor([ 1, -2, 30], dtype=int32)");
    expect(tensor([true, false]).toString()).toBe("tensor([ true, false], dtype=bool)");
    expect(scalar(3.5).toString()).toBe("tensor(3.5000)");
    expect(tensor(5).toString()).toBe("tensor(5.)");
    expect(String(tensor([0.1, -2.5]))).toBe("tensor([ 0.1000, -2.5000])");
    expect(String(tensor([1e-5, 1]))).toBe("tensor([1.0000e-05, 1.0000e+00])");
  });

  it("separates 3-D blocks with a blank line", () => {
    expect(tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]).toString()).toBe(
      "tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])",
    );
  });

  it("summarizes a large tensor with ... in a few lines", () => {
    const s = arange(10000).reshape([100, 100]).toString();
    expect(s).toContain("...");
    const lines = s.split("\n");
    expect(lines.length).toBeLessThan(40);
    expect(s.length).toBeLessThan(2000);
    expect(lines[0]).toBe("tensor([[   0.,    1.,    2., ...,   97.,   98.,   99.],");
    expect(lines[3]).toBe("        ...,");
    expect(lines[lines.length - 1]).toBe("        [9900., 9901., 9902., ..., 9997., 9998., 9999.]])");
  });

  it("prints an empty tensor with its size", () => {
    expect(zeros([0, 3]).toString()).toBe("tensor([], size=[0, 3])");
  });
});

describe("errors are clear", () => {
  it("broadcasting mismatch names the op and both shapes", () => {
    const e = thrown(ShapeError, () => add(zeros([2, 3]), zeros([4])));
    expect(e.message).toContain("add");
    expect(e.message).toContain("[2, 3]");
    expect(e.message).toContain("[4]");
    expect(() => zeros([2, 3]).mul(zeros([2]))).toThrow(/mul/);
  });

  it("matmul inner-dimension mismatch names matmul and both shapes", () => {
    const e = thrown(ShapeError, () => zeros([2, 3]).matmul(zeros([4, 5])));
    expect(e.message).toContain("matmul");
    expect(e.message).toContain("[2, 3]");
    expect(e.message).toContain("[4, 5]");
  });

  it("an out-of-range axis throws IndexError naming the op and the valid range", () => {
    const e = thrown(IndexError, () => zeros([2, 3]).sum({ axis: 2 }));
    expect(e.message).toContain("sum");
    expect(e.message).toContain("[-2, 1]");
    const e2 = thrown(IndexError, () => zeros([2, 3]).softmax(-3));
    expect(e2.message).toContain("softmax");
    expect(e2.message).toContain("-3");
  });

  it("gather with an out-of-range index throws IndexError", () => {
    const x = tensor([[1, 2, 3]]);
    const e = thrown(IndexError, () => x.gather(1, tensor([[0, 3]], { dtype: "int32" })));
    expect(e.message).toContain("gather");
    expect(e.message).toContain("3");
    expect(() => x.gather(1, tensor([[-1, 0]], { dtype: "int32" }))).toThrow(IndexError);
    // In range works.
    expect(x.gather(1, tensor([[2, 0]], { dtype: "int32" })).toArray()).toEqual([[3, 1]]);
  });

  it("gather with a float index throws DTypeError", () => {
    const e = thrown(DTypeError, () => tensor([[1, 2, 3]]).gather(1, tensor([[0, 1]])));
    expect(e.message).toContain("int32");
    expect(e.message).toContain("float32");
  });

  it("reshape to an incompatible size throws ShapeError", () => {
    const e = thrown(ShapeError, () => arange(6).reshape([4, 2]));
    expect(e.message).toContain("[6]");
    expect(e.message).toContain("[4, 2]");
    expect(() => arange(6).reshape([4, -1])).toThrow(ShapeError);
    expect(arange(6).reshape([3, -1]).shape).toEqual([3, 2]);
  });

  it("concat with different dtypes throws DTypeError", () => {
    const e = thrown(DTypeError, () => concat([tensor([1]), tensor([1], { dtype: "float64" })]));
    expect(e.message).toContain("float32");
    expect(e.message).toContain("float64");
  });
});

describe("dtype promotion", () => {
  const dt = (t: Tensor): DType => t.dtype;

  it("float32 + float64 -> float64, either order", () => {
    expect(dt(tensor([1]).add(tensor([1], { dtype: "float64" })))).toBe("float64");
    expect(dt(tensor([1], { dtype: "float64" }).add(tensor([1])))).toBe("float64");
    expect(promoteTypes("float32", "float64")).toBe("float64");
  });

  it("int32 + float32 -> float32", () => {
    const r = tensor([1, 2], { dtype: "int32" }).add(tensor([0.5, 0.5]));
    expect(r.dtype).toBe("float32");
    expect(r.toArray()).toEqual([1.5, 2.5]);
    expect(dt(tensor([1]).mul(tensor([1], { dtype: "int32" })))).toBe("float32");
  });

  it("int32 + integer number stays int32; int32 + 2.5 becomes float32", () => {
    const i = tensor([1, 2], { dtype: "int32" }).add(2);
    expect(i.dtype).toBe("int32");
    expect(i.toArray()).toEqual([3, 4]);
    const f = tensor([1, 2], { dtype: "int32" }).add(2.5);
    expect(f.dtype).toBe("float32");
    expect(f.toArray()).toEqual([3.5, 4.5]);
    // A number never widens a float tensor.
    expect(dt(tensor([1]).add(2.5))).toBe("float32");
  });

  it("bool + bool -> int32", () => {
    const r = tensor([true, true, false]).add(tensor([true, false, false]));
    expect(r.dtype).toBe("int32");
    expect(r.toArray()).toEqual([2, 1, 0]);
  });

  it("cast to int32 truncates toward zero", () => {
    const r = tensor([1.7, -1.7, 2.5, -0.5, 3]).to("int32");
    expect(r.dtype).toBe("int32");
    expect(r.toArray()).toEqual([1, -1, 2, 0, 3]);
  });

  it("cast to bool is x != 0", () => {
    const r = tensor([0, 0.5, -2, Number.NaN, -0]).to("bool");
    expect(r.dtype).toBe("bool");
    expect(r.toArray()).toEqual([false, true, true, true, false]);
    expect(tensor([0, 3], { dtype: "int32" }).to("bool").toArray()).toEqual([false, true]);
  });
});
