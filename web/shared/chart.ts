/**
 * Line charts drawn with uPlot (a ~50 KB canvas library that redraws thousands of points in well
 * under a millisecond, so curves can follow training live): a thin wrapper that sizes the chart
 * to its container and appends points.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface SeriesSpec {
  label: string;
  color: string;
  /** Draw this series on the right-hand axis (e.g. accuracy beside a loss). */
  right?: boolean;
  dash?: number[];
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  rightLabel?: string;
  logY?: boolean;
  height?: number;
}

/** A live line chart: `push(x, ys)` appends a point to every series; `set` replaces the data. */
export class LineChart {
  readonly plot: uPlot;
  private xs: number[] = [];
  private ys: (number | null)[][];
  private observer: ResizeObserver;

  constructor(
    readonly container: HTMLElement,
    series: SeriesSpec[],
    options: LineChartOptions = {},
  ) {
    this.ys = series.map(() => []);
    const hasRight = series.some((s) => s.right);
    const opts: uPlot.Options = {
      ...(options.title ? { title: options.title } : {}),
      width: Math.max(200, container.clientWidth),
      height: options.height ?? 220,
      scales: { x: { time: false }, y: options.logY ? { distr: 3 } : {}, ...(hasRight ? { r: { range: [0, 1] } } : {}) },
      axes: [
        { label: options.xLabel ?? "", stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } },
        { label: options.yLabel ?? "", stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } },
        ...(hasRight ? [{ scale: "r", side: 1 as const, label: options.rightLabel ?? "", stroke: "currentColor", grid: { show: false } }] : []),
      ],
      series: [{ label: options.xLabel ?? "x" }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.dash ? { dash: s.dash } : {}), ...(s.right ? { scale: "r" } : {}) }))],
      legend: { live: false },
    };
    this.plot = new uPlot(opts, [[], ...this.ys.map(() => [])], container);
    this.observer = new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, container.clientWidth), height: opts.height }));
    this.observer.observe(container);
  }

  /** Appends x and one y per series (null leaves a gap). */
  push(x: number, ys: (number | null)[]): void {
    this.xs.push(x);
    ys.forEach((y, i) => this.ys[i]!.push(y));
    this.redraw();
  }

  /** Replaces all data: `xs` and one array per series. */
  set(xs: number[], ys: (number | null)[][]): void {
    this.xs = [...xs];
    this.ys = ys.map((y) => [...y]);
    this.redraw();
  }

  clear(): void {
    this.set([], this.ys.map(() => []));
  }

  /** The points so far (for tests and readouts). */
  data(): { xs: number[]; ys: (number | null)[][] } {
    return { xs: [...this.xs], ys: this.ys.map((y) => [...y]) };
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }

  private redraw(): void {
    this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData);
  }
}
