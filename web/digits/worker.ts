/**
 * The digits page's worker: fetches digits.bin, builds the CLI's split, the model and the
 * optimizer, and trains with chainrule's real forward/backward, posting progress between batches
 * (protocol.ts). It yields to its message queue every ~50 ms of work, so pause, predict and save
 * are answered while it trains.
 */
import { backendReady, data, getBackend, getNumThreads, manualSeed, models, nn, noGrad, optim, setBackend, tensor, tidy, type Tensor } from "chainrule";
import { MNIST_CLASSES_NAMES, fetchDigits, splitDigits } from "../shared/digits.js";
import type { Evaluation, FromWorker, LayerImage, SplitOptions, ToWorker } from "./protocol.js";
import { BATCH_SIZE, MOMENTUM, RECIPES, TEST_SIZE, TRAIN_SIZE, WEIGHT_DECAY, type ModelKind } from "./recipe.js";

interface Run {
  kind: ModelKind;
  epochs: number;
  optimizer: optim.SGD;
  scheduler: optim.CosineAnnealingLR;
  loader: data.DataLoader;
  lossFn: (scores: Tensor, labels: Tensor) => Tensor;
  /** 0-based epoch in progress. */
  epoch: number;
  batches: IterableIterator<[Tensor, Tensor]> | undefined;
  batch: number;
  step: number;
  lossSum: number;
  samples: number;
  trainSeconds: number;
  evalSeconds: number;
}

/** The model the page sees (trained here or loaded), with what toBytes writes beside it. */
interface Current {
  model: nn.Sequential;
  meta: models.ModelMetadata;
  split: SplitOptions;
  test: data.TensorDataset;
}

const post = (msg: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(msg, transfer);

let digitsUrl = "";
let digits: Promise<Float32Array[]> | undefined;
const splits = new Map<string, Promise<{ train: data.TensorDataset; test: data.TensorDataset }>>();
let run: Run | undefined;
let current: Current | undefined;
let running = false;

function loadDigits(): Promise<Float32Array[]> {
  if (!digits) {
    post({ type: "status", text: "loading the 10,000 digits (digits.bin, 7.8 MB)…" });
    digits = fetchDigits(digitsUrl);
  }
  return digits;
}

/** The CLI's split for these options (cached): flat [N, 784] digits, as the models take them. */
function split(o: SplitOptions): Promise<{ train: data.TensorDataset; test: data.TensorDataset }> {
  const key = `${o.trainSize}/${o.testSize}/${o.seed}`;
  let s = splits.get(key);
  if (!s) {
    s = loadDigits().then((byClass) => splitDigits(byClass, o));
    splits.set(key, s);
  }
  return s;
}

/** Lets queued messages (pause, predict) run. */
const yieldToMessages = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * The first Linear or Conv2d layer's weights, as images. Every read is asynchronous
 * (dataAsync): on the webgpu backend the weights live on the GPU; elsewhere it resolves at once.
 */
async function firstLayer(model: nn.Sequential): Promise<LayerImage | undefined> {
  for (const m of model.modules()) {
    if (m instanceof nn.Linear || m instanceof nn.Conv2d) {
      const w = m.weight;
      return { kind: m instanceof nn.Linear ? "templates" : "filters", shape: [...w.shape], weights: Float32Array.from((await w.dataAsync()) as ArrayLike<number>) };
    }
  }
  return undefined;
}

async function postLayer(model: nn.Sequential): Promise<void> {
  const layer = await firstLayer(model);
  if (layer) post({ type: "layer", layer }, [layer.weights.buffer]);
}

/** Index of the largest of the 10 scores of row i. */
function argmax(s: ArrayLike<number>, i: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (s[i * k + j]! > s[i * k + best]!) best = j;
  return best;
}

/** Loss, accuracy and confusion matrix on the test split, in eval mode, 500 digits per forward pass. */
async function evaluate(model: nn.Sequential, test: data.TensorDataset, lossFn: (s: Tensor, y: Tensor) => Tensor): Promise<Evaluation> {
  const k = 10;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let lossSum = 0;
  let correct = 0;
  for (const [x, y] of new data.DataLoader(test, { batchSize: 500 })) {
    model.eval();
    // The reads start inside the scope (their copies are queued), and are awaited after it.
    const reads = tidy(() =>
      noGrad(() => {
        const scores = model.forward(x);
        return { scores: scores.dataAsync(), loss: lossFn(scores, y).itemAsync() };
      }),
    );
    const s = await reads.scores;
    const labels = y.data;
    for (let i = 0; i < y.size; i++) {
      const label = labels[i]!;
      const p = argmax(s, i, k);
      confusion[label]![p]! += 1;
      if (p === label) correct++;
    }
    lossSum += (await reads.loss) * y.size;
    await yieldToMessages();
  }
  return { accuracy: correct / test.length, loss: lossSum / test.length, confusion, samples: test.length };
}

/** The CLI's convnet augmentation: a random 28×28 crop of the 2-padded digit (shifts of up to 2 pixels). */
const shift: data.BatchTransform = ([x, y], generator) => [data.randomCrop(x.reshape([-1, 1, 28, 28]), [28, 28], { padding: 2, generator }).reshape(x.shape), y];

/** Where the run trains: "webgpu" where asked for and the browser has it, else the wasm backend. */
async function useBackend(name: "wasm" | "webgpu"): Promise<string | undefined> {
  if (name === "webgpu") {
    try {
      await backendReady("webgpu");
      setBackend("webgpu");
      return undefined;
    } catch (e) {
      setBackend(cpuBackend);
      return `WebGPU is not available here (${(e as Error).message.split(". ")[0]}); training on the ${cpuBackend} backend.`;
    }
  }
  setBackend(cpuBackend);
  return undefined;
}

async function start(kind: ModelKind, epochs: number, seed: number, backendName: "wasm" | "webgpu"): Promise<void> {
  running = false;
  const note = await useBackend(backendName);
  if (note) post({ type: "status", text: note });
  const recipe = RECIPES[kind];
  const options: SplitOptions = { trainSize: TRAIN_SIZE, testSize: TEST_SIZE, seed };
  const { train, test } = await split(options);
  manualSeed(seed);
  const model = models.buildModel(recipe.architecture);
  const optimizer = new optim.SGD(model.parameters(), { lr: recipe.lr, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY });
  const scheduler = new optim.CosineAnnealingLR(optimizer, { tMax: epochs });
  const loader = new data.DataLoader(train, { batchSize: BATCH_SIZE, shuffle: true, seed, ...(recipe.augment ? { transform: shift } : {}) });
  const meta: models.ModelMetadata = {
    architecture: recipe.architecture,
    dataset: { name: "mnist", options: { ...options, valFraction: 0 }, imageShape: [1, 28, 28] },
    classes: [...MNIST_CLASSES_NAMES],
  };
  current = { model, meta, split: options, test };
  run = { kind, epochs, optimizer, scheduler, loader, lossFn: models.lossFunction(recipe.architecture.loss), epoch: 0, batches: undefined, batch: 0, step: 0, lossSum: 0, samples: 0, trainSeconds: 0, evalSeconds: 0 };
  post({ type: "run", kind, backend: getBackend().name, describe: models.describeArchitecture(recipe.architecture), parameters: model.numParameters(), batches: loader.length, epochs, threads: getNumThreads() });
  await postLayer(model);
  await trainLoop(run, current);
}

/** One SGD step on the next batch: its loss (read asynchronously: on the GPU too) and size, or null at the end of the epoch. */
function trainStep(r: Run, model: nn.Sequential): { loss: Promise<number>; n: number } | null {
  return tidy(() => {
    const next = r.batches!.next();
    if (next.done) return null;
    const [x, y] = next.value;
    model.train();
    r.optimizer.zeroGrad(false);
    const loss = r.lossFn(model.forward(x), y);
    loss.backward();
    r.optimizer.step();
    return { loss: loss.itemAsync(), n: y.size };
  });
}

async function trainLoop(r: Run, c: Current): Promise<void> {
  running = true;
  let losses: number[] = [];
  let lastPost = performance.now();
  let lastYield = lastPost;
  let lastLayer = lastPost;
  while (running && run === r && r.epoch < r.epochs) {
    if (!r.batches) {
      r.loader.setEpoch(r.epoch);
      r.batches = r.loader.batches();
      Object.assign(r, { batch: 0, lossSum: 0, samples: 0, trainSeconds: 0 });
    }
    const t0 = performance.now();
    const queued = trainStep(r, c.model);
    if (queued === null) {
      await endEpoch(r, c);
      continue;
    }
    const step = { loss: await queued.loss, n: queued.n };
    const now = performance.now();
    r.trainSeconds += (now - t0) / 1000;
    r.batch++;
    r.step++;
    r.lossSum += step.loss * step.n;
    r.samples += step.n;
    losses.push(step.loss);
    if (now - lastPost > 150 || r.batch === r.loader.length) {
      post({ type: "progress", epoch: r.epoch + 1, batch: r.batch, batches: r.loader.length, losses, step: r.step, samplesPerSecond: r.samples / r.trainSeconds, msPerBatch: (1000 * r.trainSeconds) / r.batch, evalSeconds: r.evalSeconds });
      losses = [];
      lastPost = now;
    }
    if (now - lastLayer > 1000) {
      await postLayer(c.model);
      lastLayer = now;
    }
    if (now - lastYield > 50) {
      await yieldToMessages();
      lastYield = performance.now();
    }
  }
  if (run !== r) return;
  running = false;
  post(r.epoch >= r.epochs ? { type: "done" } : { type: "paused" });
}

async function endEpoch(r: Run, c: Current): Promise<void> {
  const t0 = performance.now();
  const test = await evaluate(c.model, c.test, r.lossFn);
  r.evalSeconds = (performance.now() - t0) / 1000;
  r.epoch++;
  r.batches = undefined;
  r.scheduler.step();
  post({ type: "epoch", epoch: r.epoch, epochs: r.epochs, trainLoss: r.lossSum / r.samples, trainSeconds: r.trainSeconds, test });
  await postLayer(c.model);
}

function requireModel(what: string): Current {
  if (!current) throw new Error(`${what}: there is no model yet; train one or load a model.safetensors first.`);
  return current;
}

/** softmax of the model's 10 scores for one 28×28 input. */
async function predict(pixels: Float32Array): Promise<number[]> {
  const { model } = requireModel("predict");
  model.eval();
  return Array.from((await tidy(() => noGrad(() => ({ p: model.forward(tensor(pixels, { shape: [1, 784] })).softmax(-1).dataAsync() }))).p) as ArrayLike<number>);
}

async function load(bytes: ArrayBuffer, name: string): Promise<void> {
  running = false;
  run = undefined;
  const { model, meta } = models.fromBytes(new Uint8Array(bytes), { source: name });
  const arch = meta.architecture;
  const inputs = arch.sizes[0];
  const outputs = arch.sizes[arch.sizes.length - 1];
  if (inputs !== 784) throw new Error(`${name}: the model takes ${inputs} input features but a digit has 784 (28×28); load a model trained on MNIST.`);
  if (outputs !== 10) throw new Error(`${name}: the model has ${outputs} outputs but there are 10 digit classes; load a model trained on MNIST.`);
  const o = meta.dataset?.name === "mnist" ? meta.dataset.options : {};
  const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);
  const options: SplitOptions = { trainSize: num(o.trainSize, TRAIN_SIZE), testSize: num(o.testSize, TEST_SIZE), seed: num(o.seed, 0) };
  const { test } = await split(options);
  current = { model, meta, split: options, test };
  await postLayer(model);
  const evaluation = await evaluate(model, test, models.lossFunction(arch.loss));
  post({ type: "loaded", name, describe: models.describeArchitecture(arch), meta, split: options, test: evaluation });
}

async function predictTest(count: number): Promise<number[]> {
  const { model, test } = requireModel("predictTest");
  model.eval();
  const x = test.x.slice(0, 0, Math.min(count, test.length));
  const s = await tidy(() => noGrad(() => ({ s: model.forward(x).dataAsync() }))).s;
  return Array.from({ length: x.shape[0]! }, (_, i) => argmax(s, i, 10));
}

async function sample(id: number): Promise<void> {
  const { test } = current ?? (await split({ trainSize: TRAIN_SIZE, testSize: TEST_SIZE, seed: 0 }));
  const i = Math.floor(Math.random() * test.length);
  const pixels = Float32Array.from((test.x.data as Float32Array).subarray(i * 784, (i + 1) * 784));
  post({ type: "sample", id, pixels, label: test.y.data[i]! }, [pixels.buffer]);
}

/** The wasm backend finishes compiling before any message is handled (else the js reference would run). */
const backend = backendReady();
let cpuBackend = "wasm";
void backend.then(() => (cpuBackend = getBackend().name));

async function handle(msg: ToWorker): Promise<void> {
  await backend;
  switch (msg.type) {
    case "init":
      digitsUrl = msg.digitsUrl;
      void loadDigits().then(() => post({ type: "status", text: "digits loaded" }));
      return;
    case "start":
      return start(msg.kind, msg.epochs, msg.seed, msg.backend ?? "wasm");
    case "resume":
      if (run && current && !running) return trainLoop(run, current);
      return;
    case "pause":
      running = false;
      return;
    case "predict":
      post({ type: "probs", id: msg.id, probs: await predict(msg.pixels) });
      return;
    case "sample":
      return sample(msg.id);
    case "save": {
      const c = requireModel("save");
      const bytes = await models.toBytesAsync(c.model, c.meta);
      post({ type: "saved", id: msg.id, bytes }, [bytes.buffer]);
      return;
    }
    case "load":
      return load(msg.bytes, msg.name);
    case "predictTest":
      post({ type: "predicted", id: msg.id, labels: await predictTest(msg.count), split: requireModel("predictTest").split });
      return;
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  handle(e.data).catch((err: unknown) => {
    if (e.data.type !== "pause") running = false;
    const message = err instanceof Error ? err.message : String(err);
    post({ type: "error", during: e.data.type, message, ...("id" in e.data ? { id: e.data.id } : {}) });
  });
};
