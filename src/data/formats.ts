/**
 * Parsers of the standard dataset file formats, from bytes (browser-safe; the Node loaders in
 * node.ts read the files and gunzip them). Every check failure is a DataError that names the
 * file and says what was expected: the magic number, the sizes, the counts.
 *
 * - IDX (MNIST, Fashion-MNIST): big-endian; images: magic 2051 (0x00000803), count, rows, cols,
 *   then count·rows·cols unsigned bytes; labels: magic 2049 (0x00000801), count, then count bytes.
 * - CIFAR-10 binary: records of 3,073 bytes, 1 label byte (0…9) then 3,072 pixel bytes: the
 *   1,024 red, then green, then blue values of the 32×32 image, row-major (CHW).
 */
import { DataError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { TensorDataset } from "./dataset.js";
import { checkInt } from "./util.js";

/** Magic number of IDX image files (unsigned bytes, 3 dimensions). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of IDX label files (unsigned bytes, 1 dimension). */
export const IDX_LABELS_MAGIC = 2049;
/** Bytes per CIFAR-10 binary record: 1 label + 3·32·32 pixels. */
export const CIFAR10_RECORD_BYTES = 3073;
/** The CIFAR-10 class names, by label (as in batches.meta.txt). */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);
/** The MNIST class names: the digits. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

/** A parsed IDX image file: `count` images of rows×cols bytes (0…255), row-major. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

/** The file's bytes: a Uint8Array (a Node Buffer is one) or an ArrayBuffer; anything else is a DataError naming the file. */
function fileBytes(input: unknown, name: string, what: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  const got = input === null ? "null" : ArrayBuffer.isView(input) ? `a ${input.constructor.name}` : Array.isArray(input) ? "an array" : typeof input;
  throw new DataError(`${name}: expected the bytes of ${what} (a Uint8Array or ArrayBuffer), got ${got}.`);
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function magicHint(magic: number, bytes: Uint8Array): string {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return " (the file is gzip-compressed: decompress it first)";
  if (magic === IDX_IMAGES_MAGIC) return " (this is an IDX image file)";
  if (magic === IDX_LABELS_MAGIC) return " (this is an IDX label file)";
  return "";
}

function sizeMismatch(name: string, what: string, expected: number, actual: number): DataError {
  const how = actual < expected ? `it is truncated: ${actual} bytes` : `it has ${actual - expected} trailing bytes (${actual} in all)`;
  return new DataError(`${name}: the header promises ${what}, ${expected} bytes in all, but ${how}.`);
}

/** Parses an IDX image file (magic 2051). `name` (the file's path) is used in errors. */
export function parseIdxImages(input: Uint8Array | ArrayBuffer, name = "IDX images"): IdxImages {
  const bytes = fileBytes(input, name, "an IDX image file");
  if (bytes.length < 16) throw new DataError(`${name}: ${bytes.length} bytes is too short for an IDX image file; its header alone is 16 bytes (magic 2051, count, rows, cols).`);
  const magic = u32(bytes, 0);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new DataError(`${name}: not an IDX image file: magic number ${magic} (0x${magic.toString(16).padStart(8, "0")}), expected ${IDX_IMAGES_MAGIC} (0x00000803)${magicHint(magic, bytes)}.`);
  }
  const count = u32(bytes, 4);
  const rows = u32(bytes, 8);
  const cols = u32(bytes, 12);
  if (rows === 0 || cols === 0 || rows > 65536 || cols > 65536) throw new DataError(`${name}: image size ${rows}×${cols} in the header is not a valid image size.`);
  const expected = 16 + count * rows * cols;
  if (bytes.length !== expected) throw sizeMismatch(name, `${count} images of ${rows}×${cols}`, expected, bytes.length);
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/** Parses an IDX label file (magic 2049): the labels, one byte each. */
export function parseIdxLabels(input: Uint8Array | ArrayBuffer, name = "IDX labels"): Uint8Array {
  const bytes = fileBytes(input, name, "an IDX label file");
  if (bytes.length < 8) throw new DataError(`${name}: ${bytes.length} bytes is too short for an IDX label file; its header alone is 8 bytes (magic 2049, count).`);
  const magic = u32(bytes, 0);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new DataError(`${name}: not an IDX label file: magic number ${magic} (0x${magic.toString(16).padStart(8, "0")}), expected ${IDX_LABELS_MAGIC} (0x00000801)${magicHint(magic, bytes)}.`);
  }
  const count = u32(bytes, 4);
  if (bytes.length !== 8 + count) throw sizeMismatch(name, `${count} labels`, 8 + count, bytes.length);
  return bytes.subarray(8);
}

/** Options of idxDataset / loadMnistIdx. */
export interface IdxDatasetOptions {
  /** x as [N, rows·cols] (true, the default) or [N, 1, rows, cols]. */
  flatten?: boolean;
  /** Keep only the first `limit` samples (default: all). */
  limit?: number;
  /** Class names for the dataset (default: the digits 0…9). */
  classes?: readonly string[];
}

/**
 * A TensorDataset from the bytes of an IDX image file and its label file: x float32 in [0, 1]
 * (byte / 255), y int32. The two counts must be equal.
 */
export function idxDataset(
  imageBytes: Uint8Array | ArrayBuffer,
  labelBytes: Uint8Array | ArrayBuffer,
  options: IdxDatasetOptions & { imagesName?: string; labelsName?: string } = {},
): TensorDataset {
  const imagesName = options.imagesName ?? "IDX images";
  const labelsName = options.labelsName ?? "IDX labels";
  const images = parseIdxImages(imageBytes, imagesName);
  const labels = parseIdxLabels(labelBytes, labelsName);
  if (images.count !== labels.length) {
    throw new DataError(`${imagesName} holds ${images.count} images but ${labelsName} holds ${labels.length} labels; the counts must be equal (are they from the same split?).`);
  }
  const n = Math.min(images.count, checkInt("idxDataset", "limit", options.limit ?? images.count, 0));
  const pixelsPer = images.rows * images.cols;
  const x = toUnitFloats(images.pixels, n * pixelsPer);
  const y = Int32Array.from(labels.subarray(0, n));
  const shape = options.flatten === false ? [n, 1, images.rows, images.cols] : [n, pixelsPer];
  return new TensorDataset(Tensor.fromStorage(x, shape, "float32"), Tensor.fromStorage(y, [n], "int32"), { classes: options.classes ?? MNIST_CLASSES });
}

/** The first `count` bytes as float32 in [0, 1]. */
export function toUnitFloats(bytes: Uint8Array, count: number, out = new Float32Array(count), at = 0): Float32Array {
  const scale = 1 / 255;
  for (let i = 0; i < count; i++) out[at + i] = bytes[i]! * scale;
  return out;
}

/** A parsed CIFAR-10 binary batch: labels (0…9) and CHW pixel bytes, 3,072 per image. */
export interface Cifar10Batch {
  count: number;
  labels: Uint8Array;
  /** The records' pixel bytes, concatenated (labels removed). */
  pixels: Uint8Array;
}

/**
 * Parses a CIFAR-10 binary batch file (e.g. data_batch_1.bin): the length must be a positive
 * multiple of 3,073 and every label 0…9. `name` (the file's path) is used in errors.
 */
export function parseCifar10Batch(input: Uint8Array | ArrayBuffer, name = "CIFAR-10 batch"): Cifar10Batch {
  const bytes = fileBytes(input, name, "a CIFAR-10 batch file");
  if (bytes.length === 0 || bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    const whole = Math.floor(bytes.length / CIFAR10_RECORD_BYTES);
    const hint = bytes[0] === 0x1f && bytes[1] === 0x8b ? " The file is gzip-compressed: decompress it first." : bytes[0] === 0x80 ? " It looks like a Python pickle: use the binary version (cifar-10-binary.tar.gz)." : "";
    throw new DataError(
      `${name}: ${bytes.length} bytes is not a whole number of CIFAR-10 records of ${CIFAR10_RECORD_BYTES} bytes (1 label + 3072 pixels); ${whole} whole records and ${bytes.length - whole * CIFAR10_RECORD_BYTES} bytes left over.${hint}`,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * 3072);
  for (let r = 0; r < count; r++) {
    const at = r * CIFAR10_RECORD_BYTES;
    const label = bytes[at]!;
    if (label > 9) throw new DataError(`${name}: record ${r} (byte offset ${at}) has label ${label}; CIFAR-10 labels are 0…9. Is this CIFAR-100 or a corrupt file?`);
    labels[r] = label;
    pixels.set(bytes.subarray(at + 1, at + CIFAR10_RECORD_BYTES), r * 3072);
  }
  return { count, labels, pixels };
}

/**
 * The class names in a batches.meta.txt (its text, or its bytes as UTF-8; one per line; blank
 * lines and a leading byte-order mark ignored): exactly 10, all different.
 */
export function parseCifar10Meta(input: string | Uint8Array | ArrayBuffer, name = "batches.meta.txt"): string[] {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    const bytes = fileBytes(input, name, "batches.meta.txt (or its text)");
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new DataError(`${name}: not valid UTF-8 text; batches.meta.txt holds the 10 class names, one per line.`);
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const names = text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== 10) throw new DataError(`${name}: expected 10 class names, one per line, found ${names.length}.`);
  const first = names.findIndex((n, i) => names.indexOf(n) !== i);
  if (first >= 0) throw new DataError(`${name}: the class name ${JSON.stringify(names[first])} appears twice; the 10 CIFAR-10 classes are all different.`);
  return names;
}
