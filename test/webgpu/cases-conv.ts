/** Convolution, pooling and normalisation parity cases for the webgpu backend (see cases.ts). */
import type { ParityCase } from "./helpers.js";

export const convCases: ParityCase[] = [];
