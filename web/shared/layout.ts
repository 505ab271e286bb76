/**
 * What every page shares: the header with the navigation and the thread count, and the `ready`
 * mark that tests (and the 2 s first-interaction budget) wait for.
 */
import "./style.css";

export const PAGE_LINKS = [
  { href: "./explorer.html", name: "explorer", title: "Backprop explorer" },
  { href: "./train.html", name: "train", title: "Train on 2-D data" },
  { href: "./digits.html", name: "digits", title: "Digits" },
  { href: "./init.html", name: "init", title: "Training, part I" },
] as const;

/** Puts the site header at the top of the page, marking `current` (a page name) as the current page. */
export function mountHeader(current: string): HTMLElement {
  const header = document.createElement("header");
  header.className = "site";
  const links = PAGE_LINKS.map((l) => `<a href="${l.href}"${l.name === current ? ' aria-current="page"' : ""}>${l.title}</a>`).join("");
  header.innerHTML = `<a class="brand" href="./index.html">chainrule</a><nav aria-label="Pages">${links}</nav><span class="threads" title="Cross-origin isolated pages run the wasm kernels on Web Workers"></span>`;
  document.body.prepend(header);
  // Loaded on its own, so that a page whose work runs in a worker is interactive before the library is.
  void import("chainrule").then(async ({ backendReady, getBackend, getNumThreads }) => {
    await backendReady();
    const threads = header.querySelector(".threads")!;
    threads.textContent = `${getBackend().name} backend · ${getNumThreads()} thread${getNumThreads() === 1 ? "" : "s"}${crossOriginIsolated ? "" : " (not isolated)"}`;
  });
  return header;
}

/** Marks the page interactive: `<body data-ready="1">`, and records when (performance.now(), ms). */
export function markReady(): void {
  document.body.dataset.ready = "1";
  (window as unknown as { __readyAt?: number }).__readyAt = performance.now();
}

/** `document.querySelector` that throws, naming the selector, when nothing matches. */
export function $<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`page: no element matches ${selector}`);
  return el;
}

/** A number with `digits` significant digits, as the pictures print values (−0 as 0). */
export function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  return Number(x.toPrecision(digits)).toString();
}
