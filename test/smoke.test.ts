import { describe, expect, it } from "vitest";
import { tensor } from "../src/index.js";

describe("lecture example f = (x + y) z", () => {
  it("gives the lecture's gradients at x = -2, y = 5, z = -4", () => {
    const x = tensor(-2, { dtype: "float64", requiresGrad: true });
    const y = tensor(5, { dtype: "float64", requiresGrad: true });
    const z = tensor(-4, { dtype: "float64", requiresGrad: true });
    const f = x.add(y).mul(z);
    f.backward();
    expect(f.item()).toBe(-12);
    expect([x.grad!.item(), y.grad!.item(), z.grad!.item()]).toEqual([-4, -4, 3]);
  });
});
