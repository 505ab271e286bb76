import { ValueError } from "../errors.js";

/**
 * A seedable pseudo-random generator: xoshiro128** (Blackman & Vigna) seeded through
 * splitmix32. It uses only 32-bit integer arithmetic (Math.imul, >>>), so the same seed gives
 * the same numbers in every JavaScript engine, in Node and in browsers.
 */
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | undefined;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Restarts the sequence from `seed` (any integer; only its low 53 bits matter). */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new ValueError(`manualSeed: the seed must be a finite number, got ${seed}.`);
    let x = (Math.trunc(seed) | 0) ^ Math.trunc(seed / 4294967296);
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = undefined;
    return this;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * A standard normal draw (Marsaglia's polar method; pairs are used in turn). It needs only
   * +, −, ×, ÷, √ (exactly rounded by IEEE 754) and `log`, which is our own port of fdlibm's,
   * so the numbers are bit-identical in every engine; Math.log/sin/cos are not required to be.
   */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.random() - 1;
      v = 2 * this.random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * portableLog(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }

  /** A uniform integer in [low, high) without modulo bias. */
  randint(low: number, high: number): number {
    const range = high - low;
    if (!(range >= 1) || range > 4294967296) throw new ValueError(`randint: need low < high with high − low ≤ 2³², got [${low}, ${high}).`);
    const limit = 4294967296 - (4294967296 % range);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return low + (x % range);
  }

  /** The full state, for checkpoints. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3, this.spareNormal ?? Number.NaN];
  }

  /** Restores a state from `getState()`. */
  setState(state: readonly number[]): this {
    if (state.length !== 5) throw new ValueError(`Generator.setState: expected the 5 numbers from getState(), got ${state.length}.`);
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0) as [number, number, number, number];
    this.spareNormal = Number.isNaN(state[4]) ? undefined : state[4];
    return this;
  }
}

const view = new DataView(new ArrayBuffer(8));
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const LG1 = 6.666666666666735130e-1, LG2 = 3.999999999940941908e-1, LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1, LG5 = 1.818357216161805012e-1, LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;

/**
 * Natural log for positive normal doubles, a port of fdlibm's __ieee754_log (the algorithm
 * behind V8's Math.log) using only basic arithmetic, so its result is the same everywhere.
 */
export function portableLog(x: number): number {
  if (!(x > 0) || x === Infinity || x < 2.2250738585072014e-308) return Math.log(x);
  view.setFloat64(0, x, true);
  let hx = view.getInt32(4, true);
  let k = (hx >> 20) - 1023;
  hx &= 0x000fffff;
  const i = (hx + 0x95f64) & 0x100000;
  view.setInt32(4, hx | (i ^ 0x3ff00000), true); // normalise x or x/2 into [sqrt(2)/2, sqrt(2))
  k += i >> 20;
  const f = view.getFloat64(0, true) - 1;
  const dk = k;
  if ((0x000fffff & (2 + hx)) < 3) {
    // |f| < 2^-20
    if (f === 0) return k === 0 ? 0 : dk * LN2_HI + dk * LN2_LO;
    const r = f * f * (0.5 - 0.33333333333333333 * f);
    return k === 0 ? f - r : dk * LN2_HI - (r - dk * LN2_LO - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  if (((hx - 0x6147a) | (0x6b851 - hx)) > 0) {
    const hfsq = 0.5 * f * f;
    return k === 0 ? f - (hfsq - s * (hfsq + r)) : dk * LN2_HI - (hfsq - (s * (hfsq + r) + dk * LN2_LO) - f);
  }
  return k === 0 ? f - s * (f - r) : dk * LN2_HI - (s * (f - r) - dk * LN2_LO - f);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator used when a function is given none. */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator, like `torch.manual_seed`. */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}
