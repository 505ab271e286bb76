/**
 * web/train.html in Chromium: training the spiral lowers the loss and changes the picture,
 * reaches a measured accuracy, every dataset draws its points, the page answers clicks while
 * playing, the graph collapses and expands modules with finite gradients, runs are reproducible,
 * and it works without COOP/COEP and on a phone.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { expectNoErrors, haveBrowser, openPage, screenshot } from "./harness.js";

interface TrainState {
  points: number;
  classes: number;
  step: number;
  loss: number;
  accuracy: number;
  playing: boolean;
  frames: number;
  graphs: number;
  graphStep: number;
}

const state = (page: Page): Promise<TrainState> => page.evaluate(() => (window as unknown as { __train: { state(): TrainState } }).__train.state());
const pixels = (page: Page): Promise<string> => page.evaluate(() => (window as unknown as { __train: { pixels(): string } }).__train.pixels());

/** Waits until the worker has drawn the run's first frame (after load or a reset). */
async function firstFrame(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().frames > 0, undefined, { timeout: 20_000 });
}

/** Plays until the step counter passes `steps`, then pauses; returns the state after the pause. */
async function playUntil(page: Page, steps: number): Promise<TrainState> {
  await page.click("#play");
  await page.waitForFunction((n) => (window as unknown as { __train: { state(): TrainState } }).__train.state().step >= n, steps, { timeout: 40_000 });
  await page.click("#play");
  // The pause's own frame (playing false) carries the final step.
  await page.waitForFunction(() => !(window as unknown as { __train: { state(): TrainState } }).__train.state().playing);
  return state(page);
}

describe.skipIf(!haveBrowser)("web: train", () => {
  it("trains the spiral: the loss falls, the regions change, accuracy > 0.95, a button answers during play", async () => {
    const opened = await openPage("train.html");
    const { page } = opened;
    try {
      expect(opened.readyAt).toBeLessThan(2000);
      await firstFrame(page);
      const before = await state(page);
      expect(before.points).toBe(300);
      expect(before.classes).toBe(3);
      expect(before.step).toBe(0);
      const picture0 = await pixels(page);
      for (let i = 0; i < 3; i++) await page.click("#step");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step === 3);
      expect((await state(page)).loss).toBeLessThan(before.loss);

      await page.selectOption("#speed", "20");
      await page.click("#play");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step > 40);
      // While training runs, the page's thread stays free: a click on the seed box focuses it, and
      // over one second no task keeps a 0 ms timer waiting long (the training is in the worker).
      await page.click("#seed");
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("seed");
      const lags = await page.evaluate(async () => {
        const out: number[] = [];
        const end = performance.now() + 1000;
        while (performance.now() < end) {
          const t = performance.now();
          await new Promise((r) => setTimeout(r, 0));
          out.push(performance.now() - t);
        }
        return out;
      });
      expect(lags.length).toBeGreaterThan(20);
      // Measured on the shared 2-core machine: median 4 ms, max 18 ms; the bounds leave room for its load.
      expect([...lags].sort((a, b) => a - b)[lags.length >> 1]).toBeLessThan(50);
      expect(Math.max(...lags)).toBeLessThan(500);
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step >= 400, undefined, { timeout: 40_000 });
      await page.click("#play");
      await page.waitForFunction(() => !(window as unknown as { __train: { state(): TrainState } }).__train.state().playing);
      const after = await state(page);
      // Measured: Adam lr 0.01, full batch, 16,16 relu: loss 1.10 → 0.19, accuracy 0.99 after 400 steps.
      expect(after.loss).toBeLessThan(0.4);
      expect(after.accuracy).toBeGreaterThan(0.95);
      expect(await pixels(page)).not.toBe(picture0);
      const chart = await page.evaluate(() => (window as unknown as { __train: { chart(): { xs: number[]; ys: number[][] } } }).__train.chart());
      expect(chart.xs[0]).toBe(0);
      expect(chart.xs.at(-1)).toBe(after.step);
      expect(chart.ys[0]!.at(-1)).toBeCloseTo(after.loss, 6);
      expect(chart.ys[0]![0]!).toBeGreaterThan(1);
      expect(await page.textContent("#readout")).toContain(`step ${after.step}`);
      await page.waitForFunction((n) => (window as unknown as { __train: { state(): TrainState } }).__train.state().graphStep === n, after.step);
      await screenshot(page, "train");
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  }, 90_000);

  it("draws every dataset with the right number of points and classes", async () => {
    const opened = await openPage("train.html");
    const { page } = opened;
    try {
      await firstFrame(page);
      const expected: Record<string, [number, number]> = { spiral: [300, 3], moons: [200, 2], circles: [200, 2], xor: [200, 2], blobs: [200, 4] };
      let previous = "";
      for (const [name, [n, k]] of Object.entries(expected)) {
        await page.selectOption("#dataset", name);
        await page.waitForFunction(([points, classes]) => {
          const s = (window as unknown as { __train: { state(): TrainState } }).__train.state();
          return s.points === points && s.classes === classes && s.frames > 0;
        }, [n, k] as const);
        const picture = await pixels(page);
        expect(picture).not.toBe(previous);
        previous = picture;
      }
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("the graph shows each layer as one gate; opening one shows its gates; gradients are finite", async () => {
    const opened = await openPage("train.html");
    const { page } = opened;
    try {
      await firstFrame(page);
      await page.click("#step");
      await page.waitForFunction(() => {
        const s = (window as unknown as { __train: { state(): TrainState } }).__train.state();
        return s.step === 1 && s.graphStep === 1;
      });
      const nodeTexts = async (): Promise<string[]> => page.$$eval("#graph g.node text", (ts) => ts.map((t) => t.textContent ?? ""));
      const collapsed = await page.$$eval("#graph g.node.module", (ns) => ns.map((n) => n.getAttribute("data-module")));
      expect(collapsed).toEqual(["0", "1", "2", "3", "4"].filter((m) => collapsed.includes(m)));
      expect(collapsed.length).toBe(5);
      // Class names survive the production build (the labels are "0: Linear", "1: ReLU", …).
      expect(await page.$$eval("#modules label", (ls) => ls.map((l) => l.textContent?.trim()))).toEqual(["0: Linear", "1: ReLU", "2: Linear", "3: ReLU", "4: Linear"]);
      expect(await nodeTexts()).toContain("0: Linear");
      expect((await nodeTexts()).some((t) => t === "matmul")).toBe(false);
      const red = await page.$$eval("#graph text[fill='#c62828']", (ts) => ts.map((t) => t.textContent ?? ""));
      expect(red.length).toBeGreaterThan(5);
      const numbers = red.join(" ").match(/-?\d+(\.\d+)?(e-?\d+)?|NaN|Infinity/g) ?? [];
      expect(numbers.length).toBeGreaterThan(5);
      for (const x of numbers) expect(Number.isFinite(Number(x))).toBe(true);

      const graphs = (await state(page)).graphs;
      await page.click("#graph g.node.module[data-module='0']");
      await page.waitForFunction((g) => (window as unknown as { __train: { state(): TrainState } }).__train.state().graphs > g, graphs);
      expect(await page.isChecked("#modules input[value='0']")).toBe(true);
      expect(await page.$$eval("#graph g.node.module", (ns) => ns.map((n) => n.getAttribute("data-module")))).not.toContain("0");
      expect(await nodeTexts()).toContain("matmul");
      await page.uncheck("#modules input[value='0']");
      await page.waitForFunction((g) => (window as unknown as { __train: { state(): TrainState } }).__train.state().graphs > g + 1, graphs);
      expect(await nodeTexts()).not.toContain("matmul");
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("reset with the same settings reproduces the loss; without COOP/COEP (one thread) too", async () => {
    const opened = await openPage("train.html", { isolated: false });
    const { page } = opened;
    try {
      expect(opened.readyAt).toBeLessThan(2000);
      await page.selectOption("#dataset", "moons");
      await page.selectOption("#batch", "10");
      await page.selectOption("#optimizer", "momentum");
      await firstFrame(page);
      await page.selectOption("#speed", "20");
      const first = await playUntil(page, 60);
      await page.click("#reset");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step === 0);
      await page.selectOption("#speed", "1");
      for (let i = 0; i < 5; i++) await page.click("#step");
      await page.selectOption("#speed", "5");
      await page.click("#play");
      await page.waitForFunction((n) => (window as unknown as { __train: { state(): TrainState } }).__train.state().step >= n, first.step);
      await page.click("#play");
      await page.waitForFunction(() => !(window as unknown as { __train: { state(): TrainState } }).__train.state().playing);
      const chart = await page.evaluate(() => (window as unknown as { __train: { chart(): { xs: number[]; ys: number[][] } } }).__train.chart());
      const at = chart.xs.indexOf(first.step);
      expect(at).toBeGreaterThan(0);
      expect(chart.ys[0]![at]).toBe(first.loss);
      expect(chart.ys[1]![at]).toBe(first.accuracy);
      // A different seed is a different run.
      await page.fill("#seed", "1");
      await page.press("#seed", "Enter");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step === 0);
      for (let i = 0; i < 5; i++) await page.click("#step");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().step === 5);
      const other = await page.evaluate(() => (window as unknown as { __train: { chart(): { ys: number[][] } } }).__train.chart().ys[0]![5]);
      expect(other).not.toBe(chart.ys[0]![5]);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  }, 90_000);

  it("shows a bad setting's error in the page and fits a phone's width", async () => {
    const opened = await openPage("train.html", { viewport: { width: 390, height: 844 } });
    const { page } = opened;
    try {
      await firstFrame(page);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.fill("#hidden", "16,x");
      await page.press("#hidden", "Enter");
      await page.waitForSelector("#error:not([hidden])");
      expect(await page.textContent("#error")).toContain('hidden layers: "x" is not a layer size');
      await page.fill("#hidden", "8");
      await page.press("#hidden", "Enter");
      await page.waitForSelector("#error[hidden]", { state: "attached" });
      await page.click("#step");
      await page.waitForFunction(() => (window as unknown as { __train: { state(): TrainState } }).__train.state().graphStep === 1);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });
});
