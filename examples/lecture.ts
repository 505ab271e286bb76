/**
 * The three worked examples of the CS231n lecture "Backpropagation and Neural Networks",
 * computed by chainrule: every forward value and every gradient printed here is read from the
 * tensors (nothing is hard-coded), and each example ends with a gradcheck against numerical
 * gradients. Run it with `npm run demo`.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { concat, defineOp, gradcheck, ones, tensor, type Tensor } from "../src/index.js";

const f64 = { dtype: "float64" as const };
const leaf = { dtype: "float64" as const, requiresGrad: true };

/** A number with `digits` decimals; whole numbers print without decimals, as the lecture writes them. */
function num(v: number, digits = 2): string {
  const r = Number(v.toFixed(digits));
  if (Object.is(r, -0) || r === 0) return "0";
  return Number.isInteger(r) ? String(r) : v.toFixed(digits);
}

/** A tensor's elements as `[a, b]` or `[[a, b], [c, d]]`. */
function arr(t: Tensor, digits = 2): string {
  const show = (x: unknown): string => (Array.isArray(x) ? `[${x.map(show).join(", ")}]` : num(x as number, digits));
  return show(t.toArray());
}

function checkLine(name: string, report: { ok: boolean; inputs: { maxAbsError: number }[] }): string {
  const err = Math.max(...report.inputs.map((r) => r.maxAbsError));
  return `${name}: ${report.ok ? "ok" : "FAILED"} (max |analytic − numerical| = ${err.toExponential(1)})`;
}

/**
 * The lecture's sigmoid gate as ONE node of the graph: forward computes σ(x) with the
 * primitive ops, backward uses the local gradient σ(x)·(1 − σ(x)) read from the output.
 */
export const sigmoidGate = defineOp<[Tensor], Tensor>({
  name: "sigmoidGate",
  forward(ctx, x) {
    const out = x.neg().exp().add(1).reciprocal();
    ctx.save(out);
    return out;
  },
  backward(ctx, gradOut) {
    const out = ctx.saved;
    return [gradOut.mul(out).mul(out.neg().add(1))];
  },
});

/** (a) f = (x + y) · z. */
function simpleCircuit(log: (line: string) => void): void {
  log(`(a) f(x, y, z) = (x + y) · z   at x = -2, y = 5, z = -4`);
  const x = tensor(-2, leaf);
  const y = tensor(5, leaf);
  const z = tensor(-4, leaf);
  const q = x.add(y).retainGrad();
  const f = q.mul(z);
  f.backward();
  log(`  forward:  q = x + y = ${num(q.item())}    f = q · z = ${num(f.item())}`);
  log(`  backward: df/dz = q = ${num(z.grad!.item())}    df/dq = z = ${num(q.grad!.item())}   (the mul gate swaps its inputs)`);
  log(`            df/dx = df/dq · dq/dx = ${num(q.grad!.item())} · 1 = ${num(x.grad!.item())}`);
  log(`            df/dy = df/dq · dq/dy = ${num(q.grad!.item())} · 1 = ${num(y.grad!.item())}   (the add gate distributes)`);
  const check = gradcheck((a, b, c) => a.add(b).mul(c), [x, y, z]);
  log(`  ${checkLine("gradcheck", check)}`);
}

/** f(w, x) = σ(w0·x0 + w1·x1 + w2), built from primitive gates: dot, ·(−1), exp, +1, 1/x. */
function neuronFromGates(w: Tensor, x: Tensor): { f: Tensor; gates: [string, Tensor][] } {
  const dot = w.matmul(concat([x, ones([1], f64)])).retainGrad(); // w0·x0 + w1·x1 + w2·1
  const negDot = dot.neg().retainGrad();
  const e = negDot.exp().retainGrad();
  const onePlus = e.add(1).retainGrad();
  const f = onePlus.reciprocal().retainGrad();
  return { f, gates: [["w·x + w2", dot], ["·(-1)", negDot], ["exp", e], ["1 + …", onePlus], ["1 / … = f", f]] };
}

/** (b) the 2-D sigmoid neuron, first gate by gate, then with one custom sigmoid gate. */
function sigmoidNeuron(log: (line: string) => void): void {
  log(`(b) f(w, x) = 1 / (1 + e^-(w0·x0 + w1·x1 + w2))   at w = [2, -3, -3], x = [-1, -2]`);
  const w = tensor([2, -3, -3], leaf);
  const x = tensor([-1, -2], leaf);
  const { f, gates } = neuronFromGates(w, x);
  f.backward();
  log(`  gate          value   df/d(value)   (retainGrad() keeps the gradients of intermediates)`);
  for (const [name, t] of gates) log(`  ${name.padEnd(11)} ${num(t.item()).padStart(6)}   ${num(t.grad!.item()).padStart(8)}`);
  const [, [, negDot], [, e]] = gates;
  log(`  e.g. at the exp gate: upstream × local = ${num(e.grad!.item())} · e^(${num(negDot.item())}) = ${num(negDot.grad!.item())}`);
  log(`  df/dw = ${arr(w.grad!)}    df/dx = ${arr(x.grad!)}`);

  const w2 = tensor([2, -3, -3], leaf);
  const x2 = tensor([-1, -2], leaf);
  const dot = w2.matmul(concat([x2, ones([1], f64)]));
  const s = sigmoidGate(dot);
  s.backward();
  const sv = s.item();
  log(`  the same neuron with ONE sigmoid gate (defineOp), local gradient σ(1 − σ):`);
  log(`  σ(w·x + w2) = σ(${num(dot.item())}) = ${num(sv)}   local gradient σ(1 − σ) = ${num(sv)} · ${num(1 - sv)} = ${num(sv * (1 - sv))}`);
  log(`  df/dw = ${arr(w2.grad!)}    df/dx = ${arr(x2.grad!)}`);
  const diff = Math.max(...[...w.grad!.data].map((v, i) => Math.abs(v - w2.grad!.data[i]!)), ...[...x.grad!.data].map((v, i) => Math.abs(v - x2.grad!.data[i]!)));
  log(`  same gradients as the five gates: ${diff < 1e-12 ? "yes" : "NO"} (max difference ${diff.toExponential(1)})`);

  const gatesCheck = gradcheck((a, b) => neuronFromGates(a, b).f, [w, x]);
  const oneGateCheck = gradcheck((a, b) => sigmoidGate(a.matmul(concat([b, ones([1], f64)]))), [w, x]);
  log(`  ${checkLine("gradcheck (five gates)", gatesCheck)}`);
  log(`  ${checkLine("gradcheck (sigmoidGate)", oneGateCheck)}`);
}

/** (c) a vectorized example: f(x, W) = ||W·x||². */
function vectorized(log: (line: string) => void): void {
  log(`(c) f(x, W) = ||W·x||² = Σ qᵢ²,  q = W·x   at W = [[0.1, 0.5], [-0.3, 0.8]], x = [0.2, 0.4]`);
  const W = tensor([[0.1, 0.5], [-0.3, 0.8]], leaf);
  const x = tensor([0.2, 0.4], leaf);
  const q = W.matmul(x).retainGrad();
  const f = q.square().sum();
  f.backward();
  log(`  forward:  q = W·x = ${arr(q)}    f = ${num(f.item(), 3)}`);
  log(`  backward: df/dq = 2q = ${arr(q.grad!)}`);
  // The lecture's closed forms, computed directly, to compare with what backward found.
  const twoQ = q.detach().mul(2);
  const wFormula = twoQ.unsqueeze(1).matmul(x.detach().unsqueeze(0));
  const xFormula = W.detach().T.matmul(twoQ);
  const same = (a: Tensor, b: Tensor): boolean => a.sub(b).abs().max().item() < 1e-12;
  log(`            ∇W = 2 q xᵀ = ${arr(W.grad!, 3)}   (equals 2 q xᵀ: ${same(W.grad!, wFormula) ? "yes" : "NO"})`);
  log(`            ∇x = 2 Wᵀ q = ${arr(x.grad!, 3)}   (equals 2 Wᵀ q: ${same(x.grad!, xFormula) ? "yes" : "NO"})`);
  const check = gradcheck((w, v) => w.matmul(v).square().sum(), [W, x]);
  log(`  ${checkLine("gradcheck", check)}`);
}

/** Prints the three lecture examples through `log` (one call per line). */
export function main(log: (line: string) => void = console.log): void {
  log(`chainrule: the worked examples of CS231n "Backpropagation and Neural Networks" (float64)`);
  log(``);
  simpleCircuit(log);
  log(``);
  sigmoidNeuron(log);
  log(``);
  vectorized(log);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
