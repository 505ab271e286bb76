/**
 * chainrule's error family. Every message names the op, the argument and the shapes
 * involved, and says what to do about it.
 */
export class ChainruleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** Shapes that do not fit together (broadcasting, matmul, reshape...). */
export class ShapeError extends ChainruleError {}
/** A dtype the op cannot take, or a mix of dtypes it cannot promote. */
export class DTypeError extends ChainruleError {}
/** Misuse of the computational graph (backward twice, non-scalar backward...). */
export class GraphError extends ChainruleError {}
/** An index or axis outside its range. */
export class IndexError extends ChainruleError {}
/** A bad argument value (not a shape or dtype problem). */
export class ValueError extends ChainruleError {}
/** A NaN or Inf found by `detectAnomaly`. */
export class AnomalyError extends ChainruleError {}
/** A missing or malformed data file: names the file and what was expected (magic number, size, counts). */
export class DataError extends ChainruleError {}
/** A value asked for synchronously lives on a device (GPU) backend, or a device cannot do what was asked. */
export class DeviceError extends ChainruleError {}

/** Formats a shape the way messages print it: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
