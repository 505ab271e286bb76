/**
 * The lecture's picture of the circuit: chainrule's viz.toSvg (Graphviz) in a box, with the
 * gate backprop is at highlighted. Renders are coalesced: only the newest request is drawn.
 */
import { viz } from "chainrule";

/** Draws traces into `box`, newest first wins. */
export class Picture {
  private latest = 0;

  constructor(readonly box: HTMLElement) {}

  /**
   * Renders `trace` and highlights gate `current` (a trace node id) and the wires into it.
   * Resolves false when a newer render superseded this one.
   */
  async draw(trace: viz.TraceGraph, options: { digits: number; current?: string; caption?: string }): Promise<boolean> {
    const ticket = ++this.latest;
    const svg = await viz.toSvg(trace, { digits: options.digits, ...(options.caption ? { title: options.caption } : {}) });
    if (ticket !== this.latest) return false;
    this.box.innerHTML = svg;
    const element = this.box.querySelector("svg");
    if (element) {
      element.setAttribute("role", "img");
      element.setAttribute("aria-label", "the circuit: forward values in green, gradients in red on every wire");
      const width = Number.parseFloat(element.getAttribute("width") ?? "");
      if (Number.isFinite(width)) element.style.setProperty("--natural-width", `${(width * 4) / 3}px`);
    }
    if (options.current) this.highlight(options.current);
    this.box.dataset.renders = String(Number(this.box.dataset.renders ?? "0") + 1);
    return true;
  }

  /** Marks gate `id` (<g class="node"> titled id) and the wires into it. */
  private highlight(id: string): void {
    for (const g of this.box.querySelectorAll<SVGGElement>("g.node, g.edge")) {
      const title = g.querySelector("title")?.textContent ?? "";
      if (g.classList.contains("node") && title === id) g.classList.add("current");
      if (g.classList.contains("edge") && title.endsWith(`->${id}`)) g.classList.add("current-wire");
    }
  }
}
