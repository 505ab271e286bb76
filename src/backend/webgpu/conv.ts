import { DeviceError } from "../../errors.js";
import type { FloatStorage } from "../../tensor/dtype.js";
import type { Window2d } from "../backend.js";
import type { WebGpuBackend } from "./backend.js";

/** Convolution, pooling and normalisation kernels of the webgpu backend. */
export function convKernels(_be: WebGpuBackend) {
  const missing = (k: string): never => {
    throw new DeviceError(`webgpu: the ${k} kernel is not implemented on the GPU yet.`);
  };
  return {
    im2col: (_x: FloatStorage, _xOffset: number, _g: Window2d, _cols: FloatStorage, _colsOffset: number, _images: number): void => missing("im2col"),
    col2im: (_cols: FloatStorage, _colsOffset: number, _g: Window2d, _x: FloatStorage, _xOffset: number, _images: number): void => missing("col2im"),
    conv2d: (_x: FloatStorage, _w: FloatStorage, _b: FloatStorage | null, _images: number, _o: number, _g: Window2d, _out: FloatStorage): void => missing("conv2d"),
    maxPool2d: (_x: FloatStorage, _g: Window2d, _out: FloatStorage, _indices: Int32Array): void => missing("maxPool2d"),
    avgPool2d: (_x: FloatStorage, _g: Window2d, _out: FloatStorage, _cip: boolean): void => missing("avgPool2d"),
    avgPool2dBackward: (_gy: FloatStorage, _g: Window2d, _gx: FloatStorage, _cip: boolean): void => missing("avgPool2dBackward"),
    normForward: (_x: FloatStorage, _outer: number, _c: number, _inner: number, _groups: number, _eps: number, _w: FloatStorage | null, _b: FloatStorage | null, _out: FloatStorage, _mean: Float64Array, _invstd: Float64Array): void => missing("normForward"),
    normBackward: (_dy: FloatStorage, _x: FloatStorage, _outer: number, _c: number, _inner: number, _groups: number, _mean: Float64Array, _invstd: Float64Array, _w: FloatStorage | null, _dx: FloatStorage, _dw: FloatStorage | null, _db: FloatStorage | null): void => missing("normBackward"),
  };
}
