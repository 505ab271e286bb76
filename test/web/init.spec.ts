/**
 * web/init.html in Chromium: the numbers the page shows are chainrule's (the same experiment run
 * here in Node gives the same per-layer statistics), and they show the lecture's picture.
 */
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { activationStats, DEFAULT_ACTIVATION_CONFIG, type LayerStats } from "../../web/init/experiment.js";
import { expectNoErrors, haveBrowser, openPage, screenshot, type OpenedPage } from "./harness.js";

type Sweep = { rates: number[]; losses: number[][]; done: boolean };
const hook = <T>(page: Page, name: string): Promise<T> => page.evaluate((n) => (window as unknown as { __init: Record<string, () => unknown> }).__init[n]!(), name) as Promise<T>;

/** Clicks a lecture case and waits for its statistics. */
async function runCase(opened: OpenedPage, activation: string, init: string): Promise<LayerStats[]> {
  const { page } = opened;
  await page.click(`[data-case="${activation},${init}"]`);
  try {
    await page.waitForFunction(() => !(window as unknown as { __init: { statsPending(): boolean } }).__init.statsPending(), undefined, { timeout: 30_000 });
  } catch (error) {
    throw new Error(`${activation} + ${init}: no statistics (status "${await page.textContent("#act-status")}", error "${await page.textContent("#act-error")}", page errors ${JSON.stringify(opened.errors)})`, { cause: error });
  }
  return hook<LayerStats[]>(page, "stats");
}

const stds = (layers: LayerStats[], kind: "act" | "grad"): number[] => layers.map((l) => l[kind].std);

describe.skipIf(!haveBrowser)("web: init", () => {
  it("shows the lecture's four cases with chainrule's own numbers, and a learning-rate sweep", async () => {
    const opened = await openPage("init.html");
    const { page } = opened;
    try {
      expect(opened.readyAt).toBeLessThan(2000);

      const tanhSmall = await runCase(opened, "tanh", "small");
      // The same experiment in Node: same seed, same sizes, same library.
      const node = activationStats({ ...DEFAULT_ACTIVATION_CONFIG, activation: "tanh", init: "small" });
      stds(tanhSmall, "act").forEach((s, l) => expect(Math.abs(s - node[l]!.act.std) / node[l]!.act.std).toBeLessThan(1e-4));
      stds(tanhSmall, "grad").forEach((s, l) => expect(Math.abs(s - node[l]!.grad.std) / node[l]!.grad.std).toBeLessThan(1e-4));
      // Measured: layer 10's std is 2.9e-7 (it shrinks ×0.22 per layer, 0.01·√500).
      expect(tanhSmall[9]!.act.std).toBeLessThan(1e-5);
      for (let l = 1; l < 10; l++) expect(tanhSmall[l]!.act.std / tanhSmall[l - 1]!.act.std).toBeLessThan(0.3);
      // Every histogram counts every activation once.
      for (const l of tanhSmall) {
        expect(l.act.hist.counts.reduce((a, b) => a + b, 0)).toBe(500 * 500);
        expect(l.grad.hist.counts.reduce((a, b) => a + b, 0)).toBe(500 * 500);
      }
      expect(await page.locator("#act-hists canvas").count()).toBe(10);
      expect(await page.textContent("#explanation")).toMatch(/collapse to 0/);

      // Measured: 0.63 → 0.22 over the 10 layers.
      const tanhXavier = await runCase(opened, "tanh", "xavier");
      expect(tanhXavier[9]!.act.std).toBeGreaterThan(0.15);
      expect(tanhXavier[9]!.act.std).toBeLessThan(0.4);

      // Measured: 0.58 → 0.024, about ×0.7 (variance ×0.5) per layer.
      const reluXavier = await runCase(opened, "relu", "xavier");
      for (let l = 1; l < 10; l++) expect(reluXavier[l]!.act.std / reluXavier[l - 1]!.act.std).toBeLessThan(0.8);
      expect(reluXavier[9]!.act.std).toBeLessThan(0.05);

      // Measured: 0.73–0.85 at every layer.
      const reluKaiming = await runCase(opened, "relu", "kaiming");
      const k = stds(reluKaiming, "act");
      expect(Math.max(...k) / Math.min(...k)).toBeLessThan(1.5);
      expect(k[9]!).toBeGreaterThan(0.5);
      const table = await page.$$eval("#stats-table tbody tr", (rows) => rows.map((r) => r.children[2]!.textContent));
      expect(table).toHaveLength(10);
      expect(Number(table[9])).toBeCloseTo(k[9]!, 2);

      // The sweep (started on load): good < too low, good < too high, very high diverges.
      await page.waitForFunction(() => (window as unknown as { __init: { sweep(): Sweep } }).__init.sweep().done, undefined, { timeout: 60_000 });
      const sweep = await hook<Sweep>(page, "sweep");
      expect(sweep.rates).toEqual([0.01, 1, 6, 30]);
      expect(sweep.losses).toHaveLength(300);
      const last = sweep.losses[299]!;
      const [low, good, high, veryHigh] = last as [number, number, number, number];
      expect(good).toBeLessThan(low);
      expect(good).toBeLessThan(high);
      expect(!Number.isFinite(veryHigh) || veryHigh > sweep.losses[0]![3]!).toBe(true);
      expect(await page.textContent("#sweep-table tbody tr:nth-child(4)")).toMatch(/diverged/);
      expect(await page.textContent("#sweep-table tbody tr:nth-child(2)")).toMatch(/trained/);
      await runCase(opened, "tanh", "xavier");
      await screenshot(page, "init");
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  }, 150_000);

  it("works without COOP/COEP (one thread), with bad input reported on the page, and fits a phone", async () => {
    const opened = await openPage("init.html", { isolated: false, viewport: { width: 390, height: 844 } });
    const { page } = opened;
    try {
      await page.selectOption("#width", "100");
      await page.waitForFunction(() => {
        const s = (window as unknown as { __init: { stats(): { act: { hist: { counts: number[] } } }[] | null } }).__init.stats();
        return s !== null && s[0]!.act.hist.counts.reduce((a, b) => a + b, 0) === 500 * 100;
      }, undefined, { timeout: 30_000 });
      expect(await page.textContent("#act-status")).toMatch(/one thread/);
      await page.fill("#lr-1", "-1");
      await page.click("#sweep-run");
      expect(await page.textContent("#sweep-error")).toMatch(/"good" learning rate must be a positive number/);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  }, 90_000);
});
