/**
 * The backprop explorer: type a circuit (or pick one of the lecture's), set its inputs, and see
 * chainrule's own picture of it — forward values in green, gradients in red — step backward
 * gate by gate, and check every gradient against centred differences. Embeddable:
 * `mountExplorer(element, options)`.
 */
import { viz } from "chainrule";
import { $, fmt } from "../shared/layout.js";
import { errorVerdict, evaluate, expressionCircuit, numericalGrad, relativeError, type Circuit, type Evaluation } from "./circuit.js";
import { EXAMPLES, exampleById } from "./examples.js";
import { Picture } from "./picture.js";
import { backwardSteps, patternText, traceAfter, type Step } from "./steps.js";
import "./explorer.css";

/** How an explorer starts. */
export interface ExplorerOptions {
  /** An expression in chainrule's expression language (default: the lecture's "(x+y)*z"). */
  expression?: string;
  /** A lecture example by id ("simple", "neuron", "max", "fanout", "norm"); wins over `expression`. */
  example?: string;
  /** Input values by name; inputs without one start at the example's value, else 1. */
  values?: Record<string, number>;
  /** The step h of the numerical gradient (default 1e-5). */
  h?: number;
  /** Decimals in the picture and the explanation (default 2). */
  digits?: number;
  /** Show the title and the introduction (default true; false for an embedded explorer). */
  intro?: boolean;
}

/** A mounted explorer. */
export interface Explorer {
  /** Resolves once the first picture is drawn (or its error shown). */
  ready: Promise<void>;
}

let mounted = 0;

const INTRO = `
  <h1>Backprop explorer</h1>
  <p class="lead">
    A circuit is a graph of gates. The forward pass writes each gate's output on its wire (green); the backward pass
    starts with ∂f/∂f = 1 at the output and walks the gates in reverse. Each gate only knows its <em>local</em> gradient,
    and the chain rule does the rest: <strong>downstream gradient = upstream gradient × local gradient</strong> (red, under
    each value). Move an input and watch every number change; step backward to see one gate at a time.
    Everything here is chainrule's real <code>backward()</code> on float64 tensors, drawn by <code>viz.toSvg</code>.
  </p>`;

/** Mounts an explorer into `element` (which it fills). */
export function mountExplorer(element: HTMLElement, options: ExplorerOptions = {}): Explorer {
  const id = `ex${++mounted}`;
  element.classList.add("explorer");
  element.innerHTML = `${options.intro === false ? "" : INTRO}
    <form class="panel ex-circuit" novalidate>
      <div class="row">
        <label for="${id}-expr">Expression f =</label>
        <input type="text" id="${id}-expr" class="ex-expr mono" spellcheck="false" autocomplete="off" aria-describedby="${id}-expr-error" />
        <button type="submit">Draw</button>
      </div>
      <div class="row">
        <label for="${id}-example">Lecture example</label>
        <select id="${id}-example" class="ex-example">
          <option value="">(your expression)</option>
          ${EXAMPLES.map((e) => `<option value="${e.id}">${e.title}</option>`).join("")}
        </select>
        <label for="${id}-digits" class="ex-short">Decimals</label>
        <select id="${id}-digits" class="ex-digits">${[2, 3, 4, 6].map((d) => `<option>${d}</option>`).join("")}</select>
      </div>
      <p class="muted ex-code" hidden></p>
      <div id="${id}-expr-error" class="error ex-expr-error" role="alert"></div>
      <p class="muted ex-help">Operators + − * / ^, functions exp, log, sigmoid, tanh, relu, max(a, b), min(a, b).</p>
    </form>
    <section class="panel ex-picture-panel" aria-labelledby="${id}-picture-title">
      <h2 id="${id}-picture-title">The circuit</h2>
      <div class="row ex-steps" role="group" aria-label="Step through the backward pass">
        <button type="button" class="ex-next">Step backward</button>
        <button type="button" class="secondary ex-prev">Step back</button>
        <button type="button" class="secondary ex-reset">Reset</button>
        <span class="muted ex-step-count"></span>
      </div>
      <div class="ex-step" aria-live="polite">
        <p class="ex-step-line mono"></p>
        <p class="ex-step-pattern"></p>
        <p class="ex-step-copies"></p>
      </div>
      <div class="svg-box ex-picture" aria-busy="true"><p class="muted">drawing…</p></div>
      <div class="error ex-picture-error" role="alert"></div>
    </section>
    <div class="ex-lower">
      <section class="panel ex-inputs-panel" aria-labelledby="${id}-inputs-title">
        <h2 id="${id}-inputs-title">Inputs and the gradient check</h2>
        <p class="muted">Beside each input: ∂f/∂input from backward (analytic), from the centred difference
          (f(x+h) − f(x−h)) / 2h (numerical), and their relative error |a − n| / max(|a|, |n|):
          <span class="good">&lt; 1e-7 good</span>, <span class="questionable">up to 1e-4 questionable</span>,
          <span class="wrong">above: wrong</span>.</p>
        <div class="row"><label for="${id}-h">h</label><input type="number" id="${id}-h" class="ex-h" step="any" min="0" /><span class="error ex-h-error" role="alert"></span></div>
        <div class="ex-inputs"></div>
      </section>
      <section class="panel ex-explain-panel" aria-labelledby="${id}-explain-title">
        <h2 id="${id}-explain-title">The whole backward pass (<code>viz.explain</code>)</h2>
        <pre class="ex-explain mono"></pre>
      </section>
    </div>`;
  return new ExplorerView(element, id, options).start();
}

/** The explorer's state and DOM. */
class ExplorerView {
  private circuit!: Circuit;
  private values: Record<string, number> = {};
  private h: number;
  private digits: number;
  private step = 0;
  private steps: Step[] = [];
  private evaluation: Evaluation | undefined;
  private frame = 0;
  private readonly picture: Picture;
  private readonly el: {
    expr: HTMLInputElement;
    example: HTMLSelectElement;
    digits: HTMLSelectElement;
    h: HTMLInputElement;
    inputs: HTMLElement;
  };
  private pending: Promise<void> = Promise.resolve();

  constructor(
    readonly root: HTMLElement,
    readonly id: string,
    readonly options: ExplorerOptions,
  ) {
    this.h = options.h ?? 1e-5;
    this.digits = options.digits ?? 2;
    this.picture = new Picture($(".ex-picture", root));
    this.el = {
      expr: $<HTMLInputElement>(".ex-expr", root),
      example: $<HTMLSelectElement>(".ex-example", root),
      digits: $<HTMLSelectElement>(".ex-digits", root),
      h: $<HTMLInputElement>(".ex-h", root),
      inputs: $(".ex-inputs", root),
    };
  }

  start(): Explorer {
    const { expr, example, digits, h } = this.el;
    h.value = String(this.h);
    if (![...digits.options].some((o) => o.value === String(this.digits))) digits.add(new Option(String(this.digits)));
    digits.value = String(this.digits);
    const initial = this.options.example ?? (this.options.expression === undefined ? "simple" : undefined);
    if (initial !== undefined) this.useExample(initial, this.options.values);
    else this.useExpression(this.options.expression!, this.options.values ?? {});

    $("form", this.root).addEventListener("submit", (e) => {
      e.preventDefault();
      this.useExpression(expr.value, this.values);
    });
    expr.addEventListener("input", () => this.useExpression(expr.value, this.values));
    example.addEventListener("change", () => {
      if (example.value) this.useExample(example.value);
    });
    digits.addEventListener("change", () => {
      this.digits = Number(digits.value);
      this.schedule();
    });
    h.addEventListener("input", () => this.setH(h.value));
    $(".ex-next", this.root).addEventListener("click", () => this.goTo(this.step + 1));
    $(".ex-prev", this.root).addEventListener("click", () => this.goTo(this.step - 1));
    $(".ex-reset", this.root).addEventListener("click", () => this.goTo(0));
    return { ready: this.pending };
  }

  /** A lecture example, with `values` over its own. */
  private useExample(exampleId: string, values: Record<string, number> = {}): void {
    try {
      const example = exampleById(exampleId);
      const circuit = example.circuit();
      this.el.expr.value = circuit.source;
      this.el.example.value = example.id;
      this.setCircuit(circuit, { ...example.values, ...values });
    } catch (error) {
      this.showExpressionError(error);
    }
  }

  /** Parses `source`; on an error shows the library's message and keeps the last good picture. */
  private useExpression(source: string, values: Record<string, number>): void {
    let circuit: Circuit;
    try {
      circuit = expressionCircuit(source);
    } catch (error) {
      this.showExpressionError(error);
      return;
    }
    if (this.el.expr.value !== source) this.el.expr.value = source;
    const match = EXAMPLES.find((e) => e.circuit().source === source);
    this.el.example.value = match?.id ?? "";
    this.setCircuit(circuit, { ...(match?.values ?? {}), ...values });
  }

  private showExpressionError(error: unknown): void {
    $(".ex-expr-error", this.root).textContent = error instanceof Error ? error.message : String(error);
    this.el.expr.setAttribute("aria-invalid", "true");
  }

  private setCircuit(circuit: Circuit, values: Record<string, number>): void {
    $(".ex-expr-error", this.root).textContent = "";
    this.el.expr.removeAttribute("aria-invalid");
    const unknown = Object.keys(values).filter((name) => !circuit.variables.some((v) => v.name === name));
    const sameInputs = this.circuit !== undefined && this.circuit.variables.map((v) => v.name).join() === circuit.variables.map((v) => v.name).join();
    this.circuit = circuit;
    this.values = Object.fromEntries(circuit.variables.map((v) => [v.name, values[v.name] ?? 1]));
    const code = $(".ex-code", this.root);
    code.hidden = circuit.code === undefined;
    code.innerHTML = circuit.code ? `Built with the Tensor API (the expression language is scalar): <code>${circuit.code}</code>. Type an expression above to leave it.` : "";
    if (unknown.length > 0 && circuit.code === undefined) this.reportUnknown(circuit, values);
    if (!sameInputs || unknown.length > 0) this.buildInputs();
    else this.syncInputs();
    this.step = 0;
    this.schedule();
  }

  /** Values given for names the expression does not use: the library's own error, then ignored. */
  private reportUnknown(circuit: Circuit, values: Record<string, number>): void {
    try {
      viz.buildExpression(circuit.source, values);
    } catch (error) {
      this.showExpressionError(error);
    }
  }

  /** One row per input: slider and number box (kept in sync), and the gradient check. */
  private buildInputs(): void {
    this.el.inputs.innerHTML = this.circuit.variables
      .map(
        (v, i) => `
      <div class="ex-var" data-name="${v.name}">
        <div class="row">
          <label for="${this.id}-v${i}" class="mono">${v.label}</label>
          <input type="range" id="${this.id}-v${i}-range" aria-label="${v.label} (slider)" min="-10" max="10" step="0.01" />
          <input type="number" id="${this.id}-v${i}" step="0.01" />
        </div>
        <div class="ex-check mono" aria-label="gradient check for ${v.label}">
          <span>analytic <output class="analytic"></output></span>
          <span>numerical <output class="numerical"></output></span>
          <span>rel. error <output class="rel"></output></span>
        </div>
      </div>`,
      )
      .join("");
    for (const row of this.el.inputs.querySelectorAll<HTMLElement>(".ex-var")) {
      const name = row.dataset.name!;
      const range = $<HTMLInputElement>("input[type=range]", row);
      const box = $<HTMLInputElement>("input[type=number]", row);
      range.addEventListener("input", () => this.setValue(name, range.valueAsNumber, box));
      box.addEventListener("input", () => {
        if (Number.isFinite(box.valueAsNumber)) this.setValue(name, box.valueAsNumber, range);
      });
    }
    this.syncInputs();
  }

  private syncInputs(): void {
    for (const row of this.el.inputs.querySelectorAll<HTMLElement>(".ex-var")) {
      const value = this.values[row.dataset.name!]!;
      const range = $<HTMLInputElement>("input[type=range]", row);
      range.min = String(Math.min(-10, Math.floor(value)));
      range.max = String(Math.max(10, Math.ceil(value)));
      range.value = String(value);
      $<HTMLInputElement>("input[type=number]", row).value = String(value);
    }
  }

  private setValue(name: string, value: number, other: HTMLInputElement): void {
    this.values[name] = value;
    other.value = String(value);
    this.schedule();
  }

  private setH(text: string): void {
    const h = Number(text);
    const error = $(".ex-h-error", this.root);
    if (!(h > 0) || !Number.isFinite(h)) {
      error.textContent = `h must be a positive number, got '${text}'`;
      return;
    }
    error.textContent = "";
    this.h = h;
    this.schedule();
  }

  /** Coalesces updates (a dragged slider) into one per animation frame. */
  private schedule(): void {
    if (this.frame) return;
    let done!: () => void;
    this.pending = new Promise((resolve) => (done = resolve));
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      void this.update().finally(done);
    });
  }

  /** Forward + backward at the current values, then the numbers, the steps and the picture. */
  private async update(): Promise<void> {
    const error = $(".ex-picture-error", this.root);
    try {
      this.evaluation = evaluate(this.circuit, this.values, this.digits);
      this.steps = backwardSteps(this.evaluation.trace, this.evaluation.explanation);
      this.step = Math.min(this.step, this.steps.length);
      $(".ex-explain", this.root).textContent = this.evaluation.explanation;
      this.showChecks(this.evaluation);
      error.textContent = "";
      await this.redraw();
    } catch (e) {
      error.textContent = e instanceof Error ? e.message : String(e);
    }
  }

  private showChecks(evaluation: Evaluation): void {
    for (const row of this.el.inputs.querySelectorAll<HTMLElement>(".ex-var")) {
      const name = row.dataset.name!;
      const analytic = evaluation.grads[name];
      const numerical = numericalGrad(this.circuit, this.values, name, this.h);
      const out = (cls: string): HTMLOutputElement => $<HTMLOutputElement>(`output.${cls}`, row);
      out("analytic").textContent = analytic === undefined ? "none" : fmt(analytic, 8);
      out("numerical").textContent = fmt(numerical, 8);
      const rel = relativeError(analytic ?? 0, numerical);
      const relOut = out("rel");
      relOut.textContent = `${rel === 0 ? "0" : rel.toExponential(1)} (${errorVerdict(rel)})`;
      relOut.className = `rel ${errorVerdict(rel)}`;
      row.dataset.analytic = String(analytic);
      row.dataset.numerical = String(numerical);
      row.dataset.rel = String(rel);
    }
  }

  private goTo(step: number): void {
    this.step = Math.max(0, Math.min(step, this.steps.length));
    void this.redraw();
  }

  /** The picture and the step panel for the current step. */
  private async redraw(): Promise<void> {
    const evaluation = this.evaluation;
    if (!evaluation) return;
    const n = this.steps.length;
    const current = this.step > 0 ? this.steps[this.step - 1] : undefined;
    $<HTMLButtonElement>(".ex-next", this.root).disabled = this.step >= n;
    $<HTMLButtonElement>(".ex-prev", this.root).disabled = this.step === 0;
    $(".ex-step-count", this.root).textContent = n === 0 ? "no gates: nothing to backpropagate" : current ? `gate ${this.step} of ${n}` : `${n} gates; all gradients shown`;
    this.showStep(current);
    const box = this.picture.box;
    const trace = current ? traceAfter(evaluation.trace, this.step) : evaluation.trace;
    const caption = current ? `after ${this.step} of ${n} backward steps: gradients computed so far` : undefined;
    await this.picture.draw(trace, { digits: this.digits, ...(current ? { current: current.nodeId } : {}), ...(caption ? { caption } : {}) });
    box.removeAttribute("aria-busy");
  }

  private showStep(step: Step | undefined): void {
    const panel = $(".ex-step", this.root);
    panel.dataset.node = step?.nodeId ?? "";
    panel.dataset.op = step?.op ?? "";
    $(".ex-step-line", this.root).textContent = step ? step.line : "Press “Step backward” to walk the gates from the output back to the inputs.";
    $(".ex-step-pattern", this.root).textContent = step ? `Pattern: ${patternText(step)}` : "";
    $(".ex-step-copies", this.root).textContent = step && step.copies.length > 0 ? `Fan-out: ${step.copies.join(" ")}` : "";
  }
}
