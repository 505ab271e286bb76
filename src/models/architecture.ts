/**
 * Convnet architecture strings (`chainrule train --model`, the playground's digits page): layers separated by "-", e.g.
 * "conv16-pool-conv32-pool-fc128". The grammar (docs/cli.md#architecture-strings):
 *
 *   conv<F>[x<k>][s<stride>]  Conv2d with F filters, k×k kernel (default 3, odd), padding k/2
 *                             rounded down ("same" size at stride 1), then the activation; a
 *                             following "bn" puts a BatchNorm2d between the conv and the activation
 *   bn                        BatchNorm2d (after a conv: before its activation)
 *   pool[<k>]                 MaxPool2d k×k, stride k (default 2)
 *   avgpool[<k>]              AvgPool2d k×k, stride k (default 2)
 *   gap                       global average pooling (AdaptiveAvgPool2d(1)), then flatten
 *   dropout<p>                Dropout2d(p) on feature maps, Dropout(p) after the flatten
 *   fc<N>                     Linear with N outputs, then the activation (flattens first)
 *
 * The input is unflattened to [C, H, W] first (so the model takes the same flat vectors as the
 * MLP), and a last Linear to the classes is appended. The layers form one nn.Sequential whose
 * state-dict names are those of the same torch.nn.Sequential ("1.weight", "2.running_mean"...).
 */
import type { DType } from "../tensor/dtype.js";
import type { Generator } from "../tensor/random.js";
import { ValueError } from "../errors.js";
import * as nn from "../nn/index.js";

/** An architecture string that does not parse, or whose layers do not fit the input. */
export class ArchitectureError extends ValueError {}

/** Where errors come from: messages start with it ("--model" in the CLI). */
export interface ArchitectureLabel {
  /** Default "architecture". */
  label?: string;
}

/** `--model cnn`: the CS231n ThreeLayerConvNet family, conv-relu-pool ×2 → affine → relu → affine. */
export const CNN_SPEC = "conv32-bn-pool-conv64-pool-fc128";

/** One layer of a spec, as parsed. */
export type LayerToken =
  | { kind: "conv"; filters: number; kernel: number; stride: number }
  | { kind: "bn" }
  | { kind: "pool" | "avgpool"; kernel: number }
  | { kind: "gap" }
  | { kind: "dropout"; p: number }
  | { kind: "fc"; units: number };

const PATTERNS: [RegExp, (m: RegExpMatchArray) => LayerToken][] = [
  [/^conv(\d+)(?:x(\d+))?(?:s(\d+))?$/, (m) => ({ kind: "conv", filters: Number(m[1]), kernel: m[2] ? Number(m[2]) : 3, stride: m[3] ? Number(m[3]) : 1 })],
  [/^bn$/, () => ({ kind: "bn" })],
  [/^pool(\d+)?$/, (m) => ({ kind: "pool", kernel: m[1] ? Number(m[1]) : 2 })],
  [/^avgpool(\d+)?$/, (m) => ({ kind: "avgpool", kernel: m[1] ? Number(m[1]) : 2 })],
  [/^gap$/, () => ({ kind: "gap" })],
  [/^dropout(0?\.\d+|0|1)$/, (m) => ({ kind: "dropout", p: Number(m[1]) })],
  [/^fc(\d+)$/, (m) => ({ kind: "fc", units: Number(m[1]) })],
];

const GRAMMAR = "conv<F>[x<k>][s<stride>], bn, pool[<k>], avgpool[<k>], gap, dropout<p>, fc<N>, separated by '-'";

/** Parses a spec; an ArchitectureError names the bad token, its position and the grammar. */
export function parseArchitecture(spec: string, options: ArchitectureLabel = {}): LayerToken[] {
  const label = options.label ?? "architecture";
  if (typeof spec !== "string" || spec.trim() === "") throw new ArchitectureError(`${label}: an empty architecture; give "mlp", "cnn" or layers such as "conv16-pool-conv32-pool-fc128" (${GRAMMAR}).`);
  const parts = spec.split("-");
  const tokens: LayerToken[] = [];
  let at = 0;
  parts.forEach((part, i) => {
    const match = PATTERNS.map(([re, make]) => [part.match(re), make] as const).find(([m]) => m !== null);
    const where = `token ${i + 1} "${part}" (character ${at + 1} of "${spec}")`;
    if (!match) throw new ArchitectureError(`${label}: ${where} is not a layer; use ${GRAMMAR}.`);
    const token = match[1](match[0]!);
    if ((token.kind === "conv" && (token.filters < 1 || token.kernel < 1 || token.kernel % 2 === 0 || token.stride < 1)) || (token.kind === "fc" && token.units < 1) || ("kernel" in token && token.kernel < 1)) {
      throw new ArchitectureError(`${label}: ${where}: sizes must be positive${token.kind === "conv" ? " and the kernel odd (padding k/2 keeps the size)" : ""}.`);
    }
    if (token.kind === "dropout" && !(token.p >= 0 && token.p < 1)) throw new ArchitectureError(`${label}: ${where}: the dropout probability must be in [0, 1).`);
    tokens.push(token);
    at += part.length + 1;
  });
  if (!tokens.some((t) => t.kind === "conv")) throw new ArchitectureError(`${label}: "${spec}" has no conv layer; for a plain MLP use --model mlp with --hidden.`);
  return tokens;
}

/** Options of buildConvNet. */
export interface ConvNetOptions extends ArchitectureLabel {
  /** Makes the activation after each conv and fc layer. */
  activation: () => nn.Module;
  dtype?: DType;
  generator?: Generator;
}

/**
 * Builds the spec's network for flat inputs [N, C·H·W] and `classes` outputs; an
 * ArchitectureError where a layer does not fit (a pool larger than the map).
 */
export function buildConvNet(spec: string, input: readonly [number, number, number], classes: number, options: ConvNetOptions): nn.Sequential {
  const label = options.label ?? "architecture";
  const tokens = parseArchitecture(spec, { label });
  const layerOpts = { dtype: options.dtype ?? "float32", ...(options.generator ? { generator: options.generator } : {}) };
  let [c, h, w] = input;
  let flat: number | null = null; // features once flattened
  const layers: nn.Module[] = [new nn.Unflatten(1, [c, h, w])];
  const flatten = () => {
    if (flat === null) {
      layers.push(new nn.Flatten());
      flat = c * h * w;
    }
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const spatial = (what: string) => {
      if (flat !== null) throw new ArchitectureError(`${label}: "${spec}": layer ${i + 1} (${what}) comes after fc/gap, where there are no feature maps left.`);
    };
    switch (t.kind) {
      case "conv": {
        spatial("conv");
        layers.push(new nn.Conv2d(c, t.filters, t.kernel, { stride: t.stride, padding: Math.floor(t.kernel / 2), ...layerOpts }));
        [c, h, w] = [t.filters, Math.floor((h - 1) / t.stride) + 1, Math.floor((w - 1) / t.stride) + 1];
        if (tokens[i + 1]?.kind === "bn") {
          layers.push(new nn.BatchNorm2d(c, { dtype: layerOpts.dtype }));
          i++;
        }
        layers.push(options.activation());
        break;
      }
      case "bn":
        if (flat === null) layers.push(new nn.BatchNorm2d(c, { dtype: layerOpts.dtype }));
        else layers.push(new nn.BatchNorm1d(flat, { dtype: layerOpts.dtype }));
        break;
      case "pool":
      case "avgpool":
        spatial(t.kind);
        if (t.kernel > h || t.kernel > w) throw new ArchitectureError(`${label}: "${spec}": layer ${i + 1} (${t.kind}${t.kernel}) is larger than its ${h}×${w} input maps; remove a pool or use a smaller one.`);
        layers.push(t.kind === "pool" ? new nn.MaxPool2d(t.kernel) : new nn.AvgPool2d(t.kernel));
        [h, w] = [Math.floor(h / t.kernel), Math.floor(w / t.kernel)];
        break;
      case "gap":
        spatial("gap");
        layers.push(new nn.AdaptiveAvgPool2d(1));
        [h, w] = [1, 1];
        flatten();
        break;
      case "dropout":
        layers.push(flat === null ? new nn.Dropout2d(t.p, layerOpts.generator ? { generator: layerOpts.generator } : {}) : new nn.Dropout(t.p, layerOpts.generator ? { generator: layerOpts.generator } : {}));
        break;
      case "fc":
        flatten();
        layers.push(new nn.Linear(flat!, t.units, layerOpts), options.activation());
        flat = t.units;
        break;
    }
  }
  flatten();
  layers.push(new nn.Linear(flat!, classes, layerOpts));
  return new nn.Sequential(...layers);
}

/** "[1, 28, 28] → conv32 → pool → conv64 → pool → fc128 → 10". */
export function describeConvNet(spec: string, input: readonly number[], classes: number): string {
  return [`[${input.join(", ")}]`, ...spec.split("-"), String(classes)].join(" → ");
}
