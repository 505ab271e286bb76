/**
 * web/explorer.html in Chromium: the gradients drawn on the wires, the step-by-step walk and the
 * gradient check are compared with chainrule run here in Node on the same circuit.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { tensor, viz, withGraphValues } from "../../src/index.js";
import { expectNoErrors, haveBrowser, openPage, screenshot } from "./harness.js";

const NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))";
const NEURON_VALUES = { w0: 2, x0: -1, w1: -3, x1: -2, w2: -3 };

/** The same circuit in Node: its trace and explanation after a recorded backward pass. */
function nodeSide(source: string, values: Record<string, number>) {
  const built = viz.buildExpression(source, values);
  const f = withGraphValues(() => {
    built.output.backward();
    return built.output;
  });
  return { trace: viz.trace(f), explanation: viz.explain(f), inputs: built.inputs, value: f.item() };
}

interface Wire {
  title: string;
  green: string[];
  red: string[];
}

/** Every wire of the drawn SVG: its title ("n2->n4") and its green and red labels. */
async function wires(page: Page): Promise<Wire[]> {
  return page.$$eval(".ex-picture g.edge", (gs) =>
    gs.map((g) => {
      const texts = Array.from(g.querySelectorAll("text"));
      const of = (color: string) => texts.filter((t) => t.getAttribute("fill") === color).map((t) => t.textContent ?? "");
      return { title: g.querySelector("title")?.textContent ?? "", green: of("#1b7f3b"), red: of("#c62828") };
    }),
  );
}

/** Waits until the output wire's forward value reads `text`. */
async function waitForOutput(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll(".ex-picture g.edge")).some((g) => g.querySelector("title")?.textContent?.endsWith("->out") && g.querySelector('text[fill="#1b7f3b"]')?.textContent === t),
    text,
    { timeout: 20_000 },
  );
}

/** explain's last line, "gradients: dx = -4.00, …", as numbers by input name. */
function explainedGradients(explanation: string): Record<string, number> {
  const line = explanation.split("\n").find((l) => l.startsWith("gradients: "))!;
  return Object.fromEntries(line.slice("gradients: ".length).split(", ").map((part) => {
    const [name, value] = part.split(" = ");
    return [name!.replace(/^d\(?|\)$/g, ""), Number(value)];
  }));
}

/** Checks every red label on the page against the Node trace, and the leaves against explain. */
async function expectGradientsLikeNode(page: Page, source: string, values: Record<string, number>): Promise<void> {
  const node = nodeSide(source, values);
  const drawn = new Map((await wires(page)).map((w) => [w.title, w]));
  let checked = 0;
  for (const e of node.trace.edges) {
    if (!e.grad) continue;
    const wire = drawn.get(`${e.from}->${e.to}`);
    expect(wire, `wire ${e.from}->${e.to}`).toBeDefined();
    expect(wire!.red).toHaveLength(1);
    expect(Number(wire!.red[0])).toBeCloseTo(e.grad.values![0]!, 2);
    checked++;
  }
  expect(checked).toBeGreaterThanOrEqual(3);
  const byName = new Map(node.trace.nodes.map((n) => [n.id, n.name]));
  const fromExplain = explainedGradients(node.explanation);
  for (const [name, input] of Object.entries(node.inputs)) {
    const id = node.trace.nodes.find((n) => n.kind === "input" && n.name === name)!.id;
    const sum = [...drawn.values()].filter((w) => w.title.startsWith(`${id}->`)).reduce((s, w) => s + Number(w.red[0]), 0);
    expect(sum, `red labels leaving ${byName.get(id)}`).toBeCloseTo(fromExplain[name]!, 1);
    const analytic = Number(await page.getAttribute(`.ex-var[data-name="${name}"]`, "data-analytic"));
    expect(analytic).toBeCloseTo(input.grad!.item(), 12);
  }
}

describe.skipIf(!haveBrowser)("web: explorer", () => {
  it("draws the gradients chainrule computes for typed expressions and the lecture's neuron", async () => {
    const opened = await openPage("explorer.html");
    const { page } = opened;
    try {
      expect(opened.readyAt).toBeLessThan(2000);
      await waitForOutput(page, "-12");
      await page.fill(".ex-expr", "(x+y)*z");
      await page.press(".ex-expr", "Enter");
      const values = { x: 1.5, y: -0.25, z: 3 };
      for (const [name, v] of Object.entries(values)) await page.fill(`.ex-var[data-name="${name}"] input[type=number]`, String(v));
      await waitForOutput(page, "3.75");
      await expectGradientsLikeNode(page, "(x+y)*z", values);

      await page.selectOption(".ex-example", "neuron");
      await waitForOutput(page, "0.73");
      expect(await page.inputValue(".ex-expr")).toBe(NEURON);
      await expectGradientsLikeNode(page, NEURON, NEURON_VALUES);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("steps backward through the gates in explain's order, revealing the gradients", async () => {
    const opened = await openPage("explorer.html?example=neuron");
    const { page } = opened;
    try {
      await waitForOutput(page, "0.73");
      const node = nodeSide(NEURON, NEURON_VALUES);
      const lines = node.explanation.split("\n").filter((l) => /^\d+\. /.test(l));
      expect(node.trace.backwardOrder[0]).toBe(node.trace.output);
      for (let k = 1; k <= 7; k++) {
        await page.click(".ex-next");
        await page.waitForFunction((id) => document.querySelector(".ex-picture g.node.current title")?.textContent === id, node.trace.backwardOrder[k - 1]!);
        const line = await page.textContent(".ex-step-line");
        const pattern = (await page.textContent(".ex-step-pattern"))!;
        const note = pattern.startsWith("Pattern: ") && / {3}\(/.test(lines[k - 1]!) ? `   (${pattern.slice("Pattern: ".length)})` : "";
        expect(`${k}. ${line}${note}`).toBe(lines[k - 1]);
        const op = node.trace.nodes.find((n) => n.id === node.trace.backwardOrder[k - 1])!.op;
        if (op === "add") expect(pattern).toContain("the add gate distributes");
        if (op === "mul") expect(pattern).toContain("the mul gate swaps");
        if (op === "div") expect(pattern).toContain("local gradient of div: -1/x² = -0.53");
        if (k === 1) {
          // Only the output gate has run: just its input wire and the output wire carry red.
          const red = (await wires(page)).filter((w) => w.red.length > 0).map((w) => w.title).sort();
          expect(red).toEqual([`${node.trace.output}->out`, ...node.trace.edges.filter((e) => e.to === node.trace.output && e.grad).map((e) => `${e.from}->${e.to}`)].sort());
          expect(await page.textContent(".ex-step-count")).toBe("gate 1 of 8");
        }
        if (k === 3) await screenshot(page, "explorer");
      }
      await page.click(".ex-reset");
      await page.waitForFunction(() => document.querySelector(".ex-picture g.node.current") === null && document.querySelector(".ex-step")?.getAttribute("data-node") === "");
      expect((await wires(page)).filter((w) => w.red.length > 0).length).toBe(node.trace.edges.filter((e) => e.grad).length + 1);

      await page.goto(page.url().replace("example=neuron", "example=fanout"));
      await page.waitForSelector("body[data-ready='1']");
      await waitForOutput(page, "-3");
      await page.click(".ex-next");
      await page.click(".ex-next");
      await page.waitForFunction(() => document.querySelector(".ex-step")?.getAttribute("data-op") === "mul");
      expect(await page.textContent(".ex-step-copies")).toBe("Fan-out: x is used 2 times, so its gradients add up (copy gate): dx = 1.00 + -2.00 = -1.00");

      await page.goto(page.url().replace("example=fanout", "example=max"));
      await page.waitForSelector("body[data-ready='1']");
      await waitForOutput(page, "-20");
      for (let k = 0; k < 3; k++) await page.click(".ex-next");
      await page.waitForFunction(() => document.querySelector(".ex-step")?.getAttribute("data-op") === "maximum");
      expect(await page.textContent(".ex-step-pattern")).toBe("Pattern: the max gate routes: the whole upstream gradient goes to the larger input, 0 to the other");
      expect(await page.textContent(".ex-step-line")).toContain("upstream 2.00 × local 1 (z is the larger) → dz = 2.00; upstream 2.00 × local 0 → dw = 0.00");
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("checks every gradient numerically; h changes the numerical gradient", async () => {
    const opened = await openPage("explorer.html?example=neuron");
    const { page } = opened;
    try {
      await waitForOutput(page, "0.73");
      const rows = () => page.$$eval(".ex-var", (rs) => rs.map((r) => ({ name: (r as HTMLElement).dataset.name!, numerical: Number((r as HTMLElement).dataset.numerical), rel: Number((r as HTMLElement).dataset.rel), verdict: r.querySelector("output.rel")!.textContent! })));
      const before = await rows();
      expect(before.map((r) => r.name)).toEqual(["w0", "x0", "w1", "x1", "w2"]);
      for (const r of before) {
        expect(r.rel).toBeLessThan(1e-7);
        expect(r.verdict).toMatch(/\(good\)$/);
      }
      await page.fill(".ex-h", "0.5");
      await page.waitForFunction((w0) => Number(document.querySelector<HTMLElement>('.ex-var[data-name="w0"]')!.dataset.numerical) !== w0, before[0]!.numerical);
      const after = await rows();
      expect(Math.abs(after[0]!.numerical - before[0]!.numerical)).toBeGreaterThan(1e-4);
      expect(after[0]!.rel).toBeGreaterThan(1e-4);
      expect(after[0]!.verdict).toMatch(/\(wrong\)$/);

      await page.selectOption(".ex-example", "norm");
      await waitForOutput(page, "0.12");
      const W = tensor([[0.1, 0.5], [-0.3, 0.8]], { dtype: "float64", requiresGrad: true });
      const x = tensor([0.2, 0.4], { dtype: "float64", requiresGrad: true });
      W.matmul(x).square().sum().backward();
      const expected = [...W.grad!.data, ...x.grad!.data].map(Number);
      const analytic = await page.$$eval(".ex-var", (rs) => rs.map((r) => Number((r as HTMLElement).dataset.analytic)));
      analytic.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, 12));
      await page.fill(".ex-h", "1e-5");
      await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLElement>(".ex-var")).every((r) => Number(r.dataset.rel) < 1e-7));
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("follows a slider moved with the keyboard, shows expression errors and keeps the picture", async () => {
    const opened = await openPage("explorer.html");
    const { page } = opened;
    try {
      await waitForOutput(page, "-12");
      await page.focus('.ex-var[data-name="x"] input[type=range]');
      await page.keyboard.press("ArrowRight");
      await waitForOutput(page, "-12.04");
      expect(await page.inputValue('.ex-var[data-name="x"] input[type=number]')).toBe("-1.99");
      expect(Number(await page.getAttribute('.ex-var[data-name="z"]', "data-analytic"))).toBeCloseTo(3.01, 12);

      await page.fill(".ex-expr", "(x+y");
      await page.waitForFunction(() => document.querySelector(".ex-expr-error")?.textContent !== "");
      expect(await page.textContent(".ex-expr-error")).toContain("unbalanced parenthesis: '(' is never closed; add the missing ')' at column 1");
      await page.fill(".ex-expr", "foo(x)*y");
      expect(await page.textContent(".ex-expr-error")).toContain("unknown function 'foo'");
      await waitForOutput(page, "-12.04");
      expect(await page.getAttribute(".ex-expr", "aria-invalid")).toBe("true");

      // A value for a name the expression does not use: the library's message, and the picture anyway.
      await page.goto(page.url().replace(/explorer\.html.*$/, "explorer.html?expr=x*y&x=2&y=3&q=1"));
      await page.waitForSelector("body[data-ready='1']");
      await waitForOutput(page, "6");
      expect(await page.textContent(".ex-expr-error")).toBe(`unknown variable 'q': the expression "x*y" uses only x, y.`);
      expectNoErrors(opened);
    } finally {
      await opened.close();
    }
  });

  it("works without COOP/COEP on a phone, and embedded from URL parameters", async () => {
    const phone = await openPage("explorer.html?example=neuron", { isolated: false, viewport: { width: 390, height: 844 } });
    try {
      await waitForOutput(phone.page, "0.73");
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(phone.readyAt).toBeLessThan(2000);
      expectNoErrors(phone);
    } finally {
      await phone.close();
    }
    const embedded = await openPage("explorer.html?expr=(x%2By)*z&x=1&y=2&z=3&embed=1", { isolated: false });
    try {
      await waitForOutput(embedded.page, "9");
      expect(await embedded.page.$("header.site")).toBeNull();
      expect(await embedded.page.$("main h1")).toBeNull();
      expect(await embedded.page.inputValue(".ex-expr")).toBe("(x+y)*z");
      expect(Number(await embedded.page.getAttribute('.ex-var[data-name="x"]', "data-analytic"))).toBe(3);
      expectNoErrors(embedded);
    } finally {
      await embedded.close();
    }
  });
});
