/**
 * web/digits.html in Chromium: trains the MLP for an epoch in the page's worker, checks the
 * accuracy, the confusion matrix and the templates, draws a digit, saves the model and loads it
 * back (in the page, in Node and in `chainrule eval`), loads a model made by `chainrule train`,
 * and runs a few convnet batches.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { loadMnist } from "../../src/data/node.js";
import { models, noGrad, serialize, tensor, type data } from "../../src/index.js";
import { toMnist } from "../../web/digits/pad.js";
import { expectNoErrors, haveBrowser, openPage, screenshot } from "./harness.js";

interface Predicted {
  labels: number[];
  split: { trainSize: number; testSize: number; seed: number };
}

const predictTest = (page: Page, count: number): Promise<Predicted> =>
  page.evaluate((n) => (window as unknown as { __digits: { predictTest(n: number): Promise<Predicted> } }).__digits.predictTest(n), count);

/** The labels a model (in Node) predicts for the first `count` digits of a test split. */
function nodePredictions(model: { forward(x: data.TensorDataset["x"]): data.TensorDataset["x"]; eval(): unknown }, test: data.TensorDataset, count: number): number[] {
  model.eval();
  const s = noGrad(() => model.forward(test.x.slice(0, 0, count)).data);
  return Array.from({ length: count }, (_, i) => {
    let best = 0;
    for (let j = 1; j < 10; j++) if (s[i * 10 + j]! > s[i * 10 + best]!) best = j;
    return best;
  });
}

/** The confusion matrix's counts, row by row. */
const confusion = (page: Page): Promise<number[][]> =>
  page.$$eval("#confusion tbody tr", (rows) => rows.map((r) => Array.from(r.querySelectorAll("td"), (td) => Number(td.dataset.count))));

/** Draws a "7" on the pad with the mouse. */
async function drawSeven(page: Page): Promise<void> {
  await page.locator("#pad").scrollIntoViewIfNeeded();
  const box = (await page.locator("#pad").boundingBox())!;
  const at = (u: number, v: number) => [box.x + u * box.width, box.y + v * box.height] as const;
  await page.mouse.move(...at(0.25, 0.2));
  await page.mouse.down();
  for (const [u, v] of [[0.5, 0.2], [0.75, 0.2], [0.6, 0.5], [0.5, 0.8]] as const) await page.mouse.move(...at(u, v), { steps: 6 });
  await page.mouse.up();
}

const quiet = { out: () => {}, err: () => {}, isTTY: false };

describe.skipIf(!haveBrowser)("web: digits", () => {
  it("trains the MLP for an epoch; confusion, templates, drawing; saves and reloads the model (page, Node, chainrule eval)", async () => {
    const opened = await openPage("digits.html");
    const { page } = opened;
    const dir = mkdtempSync(join(tmpdir(), "chainrule-digits-"));
    try {
      console.log(`digits page: ready after ${opened.readyAt.toFixed(0)} ms (isolated)`);
      expect(opened.readyAt).toBeLessThan(2000);
      await page.fill("#epochs", "1");
      await page.click("#start");
      await page.waitForFunction(() => document.querySelector<HTMLElement>("#accuracy")!.dataset.value !== "" && document.querySelector("#start")!.textContent === "Start", undefined, { timeout: 90_000 });
      const accuracy = Number(await page.getAttribute("#accuracy", "data-value"));
      console.log(`digits page: MLP test accuracy after 1 epoch ${(100 * accuracy).toFixed(2)}%; ${await page.textContent("#status")}`);
      expect(accuracy).toBeGreaterThan(0.85);
      const matrix = await confusion(page);
      expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(2000);
      expect(matrix.reduce((a, row, i) => a + row[i]!, 0) / 2000).toBeCloseTo(accuracy, 12);
      expect(await page.textContent("#progress")).toMatch(/epoch 1\/1 · batch 63\/63 · loss [\d.]+ · \d+ samples\/s · done/);
      // 100 templates of 28×28 in a 10×10 grid, in many colours.
      const layer = await page.$eval("#layer", (c: HTMLCanvasElement) => {
        const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        for (let i = 0; i < px.length; i += 4) colours.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!);
        return { width: c.width, height: c.height, colours: colours.size };
      });
      expect(layer).toMatchObject({ width: 289, height: 289 });
      expect(layer.colours).toBeGreaterThan(500);

      await drawSeven(page);
      await page.waitForFunction(() => document.querySelectorAll("#probs li").length === 10 || document.querySelector("#error")!.textContent !== "");
      expect(await page.textContent("#error")).toBe("");
      const probs = await page.$$eval("#probs li", (lis) => lis.map((li) => Number((li as HTMLElement).dataset.p)));
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const ink = () => page.$eval("#preview", (c: HTMLCanvasElement) => Array.from(c.getContext("2d")!.getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length);
      expect(await ink()).toBeGreaterThan(20);
      await screenshot(page, "digits");
      await page.click("#clear");
      expect(await page.locator("#probs li").count()).toBe(0);
      expect(await ink()).toBe(0);

      const before = await predictTest(page, 100);
      expect(before.split).toEqual({ trainSize: 8000, testSize: 2000, seed: 0 });
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save")]);
      expect(download.suggestedFilename()).toBe("model.safetensors");
      const file = join(dir, "model.safetensors");
      await download.saveAs(file);
      await page.setInputFiles("#load", file);
      await page.waitForFunction(() => document.querySelector("#loaded")!.textContent!.startsWith("Loaded model.safetensors"));
      expect(await page.textContent("#loaded")).toContain("784 → 100 relu → 10, trained on mnist (trainSize 8000, testSize 2000, seed 0)");
      expect(Number(await page.getAttribute("#accuracy", "data-value"))).toBe(accuracy);
      expect(await confusion(page)).toEqual(matrix);
      expect((await predictTest(page, 100)).labels).toEqual(before.labels);

      // The page's file in Node and in `chainrule eval`: the same metadata as the CLI writes, the same predictions.
      const { model, meta } = models.fromBytes(readFileSync(file));
      expect(meta).toEqual({
        architecture: { model: "mlp", sizes: [784, 100, 10], activation: "relu", loss: "softmax" },
        dataset: { name: "mnist", options: { trainSize: 8000, testSize: 2000, seed: 0, valFraction: 0 }, imageShape: [1, 28, 28] },
        classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
      });
      expect(nodePredictions(model, loadMnist().test, 100)).toEqual(before.labels);
      let printed = "";
      expect(await run(["eval", "--model", file], { ...quiet, out: (s) => (printed += s) })).toBe(0);
      expect(printed).toContain(`test accuracy: ${(100 * accuracy).toFixed(2)}% (${Math.round(accuracy * 2000)}/2000)`);
      expectNoErrors(opened);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await opened.close();
    }
  }, 150_000);

  it("with the GPU switch, trains the MLP on WebGPU (SwiftShader here): accuracy, templates, drawing, and a saved file whose predictions Node reproduces", async () => {
    const opened = await openPage("digits.html");
    const { page } = opened;
    const dir = mkdtempSync(join(tmpdir(), "chainrule-digits-gpu-"));
    try {
      expect(await page.isVisible("#gpu-row")).toBe(true);
      await page.check("#gpu");
      await page.fill("#epochs", "1");
      await page.click("#start");
      await page.waitForFunction(() => document.querySelector<HTMLElement>("#accuracy")!.dataset.value !== "" && document.querySelector("#start")!.textContent === "Start", undefined, { timeout: 120_000 });
      expect(await page.textContent("#loaded")).toContain("on the webgpu backend");
      const accuracy = Number(await page.getAttribute("#accuracy", "data-value"));
      console.log(`digits page on webgpu: MLP test accuracy after 1 epoch ${(100 * accuracy).toFixed(2)}%; ${await page.textContent("#progress")}`);
      expect(accuracy).toBeGreaterThan(0.85);
      expect((await confusion(page)).flat().reduce((a, b) => a + b, 0)).toBe(2000);
      await drawSeven(page);
      await page.waitForFunction(() => document.querySelectorAll("#probs li").length === 10 || document.querySelector("#error")!.textContent !== "");
      expect(await page.textContent("#error")).toBe("");
      const probs = await page.$$eval("#probs li", (lis) => lis.map((li) => Number((li as HTMLElement).dataset.p)));
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const before = await predictTest(page, 100);
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save")]);
      const file = join(dir, "model.safetensors");
      await download.saveAs(file);
      const { model } = models.fromBytes(readFileSync(file));
      expect(nodePredictions(model, loadMnist().test, 100)).toEqual(before.labels);
      expectNoErrors(opened);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await opened.close();
    }
  }, 180_000);

  it("loads a model made by `chainrule train` on one thread (/plain/), at a phone's width; refuses a file without chainrule's metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-digits-cli-"));
    const opened = await openPage("digits.html", { isolated: false, viewport: { width: 390, height: 844 } });
    const { page } = opened;
    try {
      expect(opened.readyAt).toBeLessThan(2000);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await run(["train", "--dataset", "mnist", "--train-size", "200", "--test-size", "300", "--hidden", "16", "--epochs", "2", "--progress", "none", "--out", dir], quiet)).toBe(0);
      const file = join(dir, "model.safetensors");
      await page.setInputFiles("#load", file);
      await page.waitForFunction(() => document.querySelector("#loaded")!.textContent!.startsWith("Loaded model.safetensors"), undefined, { timeout: 30_000 });
      expect(await page.textContent("#loaded")).toContain("784 → 16 relu → 10, trained on mnist (trainSize 200, testSize 300, seed 0)");
      const { model } = models.fromBytes(readFileSync(file));
      const test = loadMnist({ trainSize: 200, testSize: 300, seed: 0 }).test;
      const shown = await predictTest(page, 300);
      expect(shown.split).toEqual({ trainSize: 200, testSize: 300, seed: 0 });
      const expected = nodePredictions(model, test, 300);
      expect(shown.labels).toEqual(expected);
      const correct = expected.filter((p, i) => p === test.y.data[i]).length;
      expect(Number(await page.getAttribute("#accuracy", "data-value"))).toBe(correct / 300);

      await page.setInputFiles("#load", { name: "weights.safetensors", mimeType: "application/octet-stream", buffer: Buffer.from(serialize({ w: tensor([1, 2]) })) });
      await page.waitForFunction(() => document.querySelector("#error")!.textContent !== "");
      expect(await page.textContent("#error")).toMatch(/^weights.safetensors has no "chainrule.architecture" metadata/);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expectNoErrors(opened);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await opened.close();
    }
  }, 90_000);

  it("trains the convnet: progress updates with a finite loss, and Pause stops it", async () => {
    const opened = await openPage("digits.html");
    const { page } = opened;
    try {
      await page.selectOption("#model", "cnn");
      expect(await page.inputValue("#epochs")).toBe("12");
      await page.click("#start");
      const step = () => page.$eval("#progress", (p: HTMLElement) => Number(p.dataset.step ?? 0));
      await page.waitForFunction(() => Number(document.querySelector<HTMLElement>("#progress")!.dataset.step ?? 0) >= 2, undefined, { timeout: 60_000 });
      const first = await step();
      await page.waitForFunction((s) => Number(document.querySelector<HTMLElement>("#progress")!.dataset.step ?? 0) > s, first, { timeout: 30_000 });
      const loss = Number(await page.getAttribute("#progress", "data-loss"));
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeGreaterThan(0);
      const msPerBatch = Number(await page.getAttribute("#estimate", "data-ms-per-batch"));
      expect(msPerBatch).toBeGreaterThan(0);
      console.log(`digits page: convnet ${msPerBatch.toFixed(0)} ms per batch of 128 (isolated): ${await page.textContent("#loaded")} ${await page.textContent("#estimate")}`);
      await page.click("#pause");
      await page.waitForFunction(() => document.querySelector("#start")!.textContent === "Resume", undefined, { timeout: 30_000 });
      const stopped = await step();
      await page.waitForTimeout(1000);
      expect(await step()).toBe(stopped);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  }, 120_000);
});

describe("web: digits pad preprocessing (toMnist)", () => {
  it("fits the drawing's box into 20×20 keeping its aspect, centres its mass at (14, 14), values in [0, 1]", () => {
    // A 40×100 bar, off centre on a 280×280 pad: 8×20 pixels in the 28×28 input.
    const pad = new Float32Array(280 * 280);
    for (let y = 30; y < 130; y++) for (let x = 200; x < 240; x++) pad[y * 280 + x] = 1;
    const out = toMnist(pad, 280, 280);
    let mass = 0;
    let mx = 0;
    let my = 0;
    const rows = new Set<number>();
    const cols = new Set<number>();
    out.forEach((v, i) => {
      if (v <= 0) return;
      const [x, y] = [i % 28, Math.floor(i / 28)];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
      rows.add(y);
      cols.add(x);
    });
    expect(mass).toBeCloseTo(8 * 20, 3);
    expect([mx / mass, my / mass]).toEqual([expect.closeTo(14, 6), expect.closeTo(14, 6)]);
    expect([cols.size, rows.size]).toEqual([8, 20]);
    expect(Math.max(...out)).toBeCloseTo(1, 6);
    expect(toMnist(new Float32Array(280 * 280), 280, 280).every((v) => v === 0)).toBe(true);
  });
});
