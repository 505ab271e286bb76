import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { GraphError } from "../errors.js";
import type { CompositeEntry, ScopeEntry } from "./mode.js";

/** What an op's forward hands its backward, and which inputs need a gradient. */
export interface OpContext<Saved = unknown> {
  /** One flag per tensor input: false where that input needs no gradient (skip its work). */
  readonly needsInputGrad: readonly boolean[];
  /** Stores what backward needs (tensors, numbers, shapes); released after backward. */
  save(saved: Saved): void;
  /** What forward saved. Throws once the graph has been released. */
  readonly saved: Saved;
}

/** The gradient of each tensor input, in order; null where there is none. */
export type InputGrads = readonly (Tensor | null | undefined)[];

/** A definition of a differentiable op: its forward and its backward side by side. */
export interface OpDef<Args extends unknown[], Saved> {
  /** Name shown in errors, graph pictures and explanations (e.g. "mul"). */
  readonly name: string;
  /**
   * Computes the output. Runs with graph recording off, so it may use tensor ops freely;
   * tensors among `args` (top level or inside an array argument) are the node's inputs.
   */
  forward(ctx: OpContext<Saved>, ...args: Args): Tensor;
  /**
   * Turns the upstream gradient `gradOut` (the output's shape) into one gradient per tensor
   * input: upstream × local gradient. Written with tensor ops, so gradients of gradients work.
   * A gradient may have the broadcast shape; the engine sums it back to the input's shape.
   */
  backward(ctx: OpContext<Saved>, gradOut: Tensor): InputGrads;
  /** Describes the non-tensor arguments for pictures and explanations (optional). */
  describe?(...args: Args): Record<string, unknown>;
}

/**
 * What a node records for pictures and explanations, only while a capture is active
 * (`scope`, `withGraphValues`); absent otherwise.
 */
export interface NodeTrace {
  /** The scopes (Module paths, user scopes) the node was created in, outermost first. */
  readonly scopes: readonly ScopeEntry[];
  /** The composite ops (see `composite` in mode.ts) the node was created in, outermost first. */
  readonly composites: readonly CompositeEntry[];
  /** Created or visited under `withGraphValues`: backward records gradients and keeps inputs. */
  values: boolean;
  /** The backward pass that last recorded gradients here (compare with the output's node). */
  pass: number;
  /** Position in that pass's visiting order (1 = the output's node). */
  visit: number;
  /** Upstream gradient in that pass: the gradient of this node's output. */
  gradOut: Tensor | undefined;
  /** What this node sent to each input in that pass (after summing to the input's shape). */
  inputGrads: (Tensor | null)[] | undefined;
}

let nextNodeId = 1;

/** What a node holds before forward calls ctx.save(). */
const NOTHING_SAVED: unique symbol = Symbol("nothing saved");

/**
 * A recorded application of an op: one node of the computational graph. It is also the op's
 * context (`ctx` in forward and backward): one object per op, not two, since a long chain of
 * small ops spends most of its time allocating and collecting these.
 */
export class Node<Saved = unknown> implements OpContext<Saved> {
  readonly id = nextNodeId++;
  /** Set by backward without retainGraph: the saved values are gone. */
  released = false;
  /** The output tensor, kept only when it asked for its gradient (`retainGrad()`). */
  retainedOutput: Tensor | undefined = undefined;
  /** @internal Engine bookkeeping for the backward pass that last visited this node. */
  pass = 0;
  /** @internal Edges through which gradient has yet to arrive in that pass. */
  pendingEdges = 0;
  /** @internal Gradient summed so far in that pass. */
  pendingGrad: Tensor | undefined = undefined;
  /** Shape of the op's output (set once forward has run). */
  outputShape: readonly number[] = NO_DIMS;
  /** Dtype of the op's output (set once forward has run). */
  outputDType: DType = "float32";
  /** The op's non-tensor arguments, from its `describe` (optional). */
  params: Record<string, unknown> | undefined = undefined;
  /** Where the op was called from (only recorded under detectAnomaly). */
  createdAt: string | undefined = undefined;
  private savedValue: Saved | typeof NOTHING_SAVED = NOTHING_SAVED;
  /** Capture data (see NodeTrace); not a field of ordinary nodes, so they cost nothing more. */
  declare trace: NodeTrace | undefined;

  constructor(
    readonly op: OpDef<never, unknown>,
    /** Tensor inputs, in argument order. */
    public inputs: readonly Tensor[],
    /** One flag per tensor input: false where that input needs no gradient. */
    readonly needsInputGrad: readonly boolean[],
  ) {}

  save(saved: Saved): void {
    this.savedValue = saved;
  }

  get saved(): Saved {
    if (this.released) throw new GraphError(`${this.op.name}: its saved values were released by an earlier backward().`);
    if (this.savedValue === NOTHING_SAVED) throw new GraphError(`${this.op.name}: backward reads ctx.saved but forward never called ctx.save().`);
    return this.savedValue;
  }

  /** @internal What forward saved, or undefined (memory scopes look for tensors in it). */
  peekSaved(): unknown {
    return this.savedValue === NOTHING_SAVED ? undefined : this.savedValue;
  }

  /**
   * Frees what forward saved and the references to inputs, so the memory can be collected.
   * Under `withGraphValues` the inputs are kept: pictures read the forward values from them.
   */
  release(): void {
    this.released = true;
    this.savedValue = NOTHING_SAVED;
    if (this.trace === undefined || !this.trace.values) this.inputs = NO_INPUTS;
  }
}

const NO_DIMS: readonly number[] = Object.freeze([]);
const NO_INPUTS: readonly Tensor[] = Object.freeze([]);
const NO_FLAGS: readonly boolean[] = Object.freeze([]);

/** Shared needsInputGrad arrays for up to 4 inputs, indexed [count][bit mask]. */
const FLAGS: (readonly boolean[])[][] = [0, 1, 2, 3, 4].map((n) =>
  Array.from({ length: 1 << n }, (_, mask) => Object.freeze(Array.from({ length: n }, (_, i) => (mask & (1 << i)) !== 0))),
);

/** `inputs.map((t) => t.requiresGrad)`, shared (not allocated) for the usual 1 to 4 inputs. */
export function needsGradFlags(inputs: readonly Tensor[]): readonly boolean[] {
  const n = inputs.length;
  if (n > 4) return inputs.map((t) => t.requiresGrad);
  let mask = 0;
  for (let i = 0; i < n; i++) if (inputs[i]!.requiresGrad) mask |= 1 << i;
  return FLAGS[n]![mask]!;
}

/** The context forward gets when nothing is recorded: save() discards, nothing needs a gradient. */
export const INERT_CONTEXT: OpContext<unknown> = {
  needsInputGrad: NO_FLAGS,
  save() {},
  get saved(): never {
    throw new GraphError("ctx.saved: this op was not recorded (no input requires grad, or grad mode is off), so nothing was saved.");
  },
};
