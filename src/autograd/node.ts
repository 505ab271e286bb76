import type { Tensor } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";
import { GraphError } from "../errors.js";
import type { ScopeEntry } from "./mode.js";

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

/** A recorded application of an op: one node of the computational graph. */
export class Node {
  readonly id = nextNodeId++;
  /** Set by backward without retainGraph: the saved values are gone. */
  released = false;
  /** Where the op was called from (only recorded under detectAnomaly). */
  readonly createdAt: string | undefined;
  /** The output tensor, kept only when it asked for its gradient (`retainGrad()`). */
  retainedOutput: Tensor | undefined;
  /** @internal Engine bookkeeping for the backward pass that last visited this node. */
  pass = 0;
  /** @internal Edges through which gradient has yet to arrive in that pass. */
  pendingEdges = 0;
  /** @internal Gradient summed so far in that pass. */
  pendingGrad: Tensor | undefined = undefined;
  /** Capture data (see NodeTrace); not a field of ordinary nodes, so they cost nothing more. */
  declare trace: NodeTrace | undefined;

  constructor(
    readonly op: OpDef<never, unknown>,
    /** Tensor inputs, in argument order. */
    public inputs: readonly Tensor[],
    readonly ctx: Context<unknown>,
    readonly outputShape: readonly number[],
    readonly outputDType: DType,
    readonly params: Record<string, unknown> | undefined,
    createdAt: string | undefined,
  ) {
    this.createdAt = createdAt;
  }

  /**
   * Frees what forward saved and the references to inputs, so the memory can be collected.
   * Under `withGraphValues` the inputs are kept: pictures read the forward values from them.
   */
  release(): void {
    this.released = true;
    this.ctx.release();
    if (this.trace === undefined || !this.trace.values) this.inputs = [];
  }
}

export class Context<Saved> implements OpContext<Saved> {
  private value: Saved | undefined;
  private hasValue = false;
  private releasedBy: string | undefined;

  constructor(readonly needsInputGrad: readonly boolean[], private readonly opName: string) {}

  save(saved: Saved): void {
    this.value = saved;
    this.hasValue = true;
  }

  get saved(): Saved {
    if (this.releasedBy) {
      throw new GraphError(this.releasedBy);
    }
    if (!this.hasValue) throw new GraphError(`${this.opName}: backward reads ctx.saved but forward never called ctx.save().`);
    return this.value as Saved;
  }

  release(): void {
    this.value = undefined;
    this.releasedBy = `${this.opName}: its saved values were released by an earlier backward().`;
  }
}
