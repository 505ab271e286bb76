/** Writing floats as F16 / BF16 (how Hugging Face publishes weights), read back as float32. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deserialize, serialize, stateDictToBytes, tensor, ValueError, nn, Generator } from "../src/index.js";
import { floatBitsToBF16, floatBitsToHalf, halfToFloatBits } from "../src/io/safetensors.js";

const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const floatOf = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;
const half = (x: number): number => floatOf(halfToFloatBits(floatBitsToHalf(bitsOf(x))));
const bf16 = (x: number): number => floatOf(floatBitsToBF16(bitsOf(x)) << 16);

describe("float32 → F16 / BF16", () => {
  it("known values: exact ones stay, rounding is to nearest with ties to even, overflow is Inf, NaN stays NaN", () => {
    expect([1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 0, -0].map(half)).toEqual([1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 0, -0]);
    expect(floatBitsToHalf(bitsOf(1))).toBe(0x3c00);
    expect(half(1 + 2 ** -11)).toBe(1); // a tie: to the even neighbour 1
    expect(half(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // a tie: to the even neighbour above
    expect(half(65520)).toBe(Infinity); // rounds up past the largest half
    expect(half(-1e6)).toBe(-Infinity);
    expect(half(2 ** -25)).toBe(0); // exactly half the smallest subnormal: ties to even (0)
    expect(half(3 * 2 ** -26)).toBe(2 ** -24);
    expect(Number.isNaN(half(NaN))).toBe(true);
    expect([1, -3, 2 ** 100].map(bf16)).toEqual([1, -3, 2 ** 100]);
    expect(bf16(1 + 2 ** -8)).toBe(1); // tie to even
    expect(bf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16(NaN))).toBe(true);
    expect(bf16(Infinity)).toBe(Infinity);
  });

  it("is the nearest representable value (property: no other half or bfloat16 is closer)", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: -60000, max: 60000 }), (x) => {
        const h = half(x);
        const hb = floatBitsToHalf(bitsOf(x));
        for (const n of [hb - 1, hb + 1]) {
          if ((n & 0x7c00) === 0x7c00 || n < 0) continue;
          const other = floatOf(halfToFloatBits(n & 0xffff));
          expect(Math.abs(other - x)).toBeGreaterThanOrEqual(Math.abs(h - x));
        }
        const b = bf16(x);
        const bb = floatBitsToBF16(bitsOf(x));
        for (const n of [bb - 1, bb + 1]) {
          if ((n & 0x7f80) === 0x7f80 || n < 0 || n > 0xffff) continue;
          expect(Math.abs(floatOf(n << 16) - x)).toBeGreaterThanOrEqual(Math.abs(b - x));
        }
      }),
    );
  });

  it("serialize / stateDictToBytes write F16 or BF16 on request; they load back as float32", () => {
    const t = tensor([1, 0.1, -2.5, 70000]);
    const f16 = deserialize(serialize({ t }, undefined, { floatDtype: "F16" })).tensors.t!;
    expect(f16.dtype).toBe("float32");
    expect(Array.from(f16.data)).toEqual([1, half(0.1), -2.5, Infinity]);
    const b16 = deserialize(serialize({ t, n: tensor([3], { dtype: "int32" }) }, undefined, { floatDtype: "BF16" })).tensors;
    expect(Array.from(b16.t!.data)).toEqual([1, bf16(0.1), -2.5, bf16(70000)]);
    expect(b16.n!.dtype).toBe("int32"); // integers keep their dtype
    const net = nn.mlp([4, 3, 2], { generator: new Generator(0) });
    const bytes = stateDictToBytes(net, { floatDtype: "BF16" });
    expect(bytes.length).toBeLessThan(stateDictToBytes(net).length);
    expect(new TextDecoder().decode(bytes.subarray(8, 200))).toContain('"dtype":"BF16"');
    expect(() => serialize({ t }, undefined, { floatDtype: "F8" as "F16" })).toThrow(ValueError);
    expect(() => serialize({ t }, undefined, { floatDtype: "F8" as "F16" })).toThrow(/floatDtype must be "native", "F32", "F16" or "BF16", got "F8"/);
  });
});
