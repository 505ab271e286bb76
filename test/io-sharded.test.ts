/** Sharded checkpoints (Hugging Face's model.safetensors.index.json) and loading from URLs, Responses and Blobs. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormatError, ValueError, fetchSafetensors, fetchShards, loadShards, parseShardIndex, serialize, tensor, type Tensor } from "../src/index.js";
import { loadSharded } from "../src/node.js";

const a = tensor([[1, 2], [3, 4]]);
const b = tensor([5, 6, 7], { dtype: "float64" });
const c = tensor([8], { dtype: "int32" });
const index = { metadata: { total_size: 16 + 24 + 4 }, weight_map: { "fc.weight": "model-00001-of-00002.safetensors", "fc.bias": "model-00002-of-00002.safetensors", steps: "model-00002-of-00002.safetensors" } };
const shards: Record<string, Uint8Array> = {
  "model-00001-of-00002.safetensors": serialize({ "fc.weight": a }),
  "model-00002-of-00002.safetensors": serialize({ "fc.bias": b, steps: c, unlisted: tensor([0]) }),
};
const values = (d: Record<string, Tensor>) => Object.fromEntries(Object.entries(d).map(([k, t]) => [k, [t.dtype, t.shape, Array.from(t.data as ArrayLike<number>)]]));
const expected = values({ "fc.weight": a, "fc.bias": b, steps: c });

let dir = "";
let server: Server;
let base = "";
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chainrule-shards-"));
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify(index));
  for (const [f, bytes] of Object.entries(shards)) writeFileSync(join(dir, f), bytes);
  server = createServer((req, res) => {
    const file = join(dir, (req.url ?? "/").split("/").pop()!);
    let body: Buffer | undefined;
    try {
      body = readFileSync(file);
    } catch {
      body = undefined;
    }
    if (body) res.writeHead(200).end(body);
    else res.writeHead(404, "Not Found").end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/m/`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("sharded checkpoints", () => {
  it("loads every tensor the index lists from its shard (Node: loadSharded; anywhere: loadShards)", () => {
    expect(values(loadSharded(join(dir, "model.safetensors.index.json")))).toEqual(expected);
    expect(values(loadShards(parseShardIndex(JSON.stringify(index)), (f) => shards[f]!))).toEqual(expected);
    // A plain file path is a plain load.
    expect(values(loadSharded(join(dir, "model-00001-of-00002.safetensors")))).toEqual(values({ "fc.weight": a }));
  });

  it("refuses indexes that do not fit their shards, or point outside their folder, naming what is wrong", () => {
    const wrong = parseShardIndex({ weight_map: { ...index.weight_map, "fc.extra": "model-00001-of-00002.safetensors" } });
    expect(() => loadShards(wrong, (f) => shards[f]!)).toThrow(FormatError);
    expect(() => loadShards(wrong, (f) => shards[f]!)).toThrow(/1 tensor of the index is not in its shard: 'fc.extra' \(in model-00001-of-00002.safetensors\)/);
    expect(() => parseShardIndex({ weight_map: { w: "../secret.safetensors" } }, "idx.json")).toThrow(/idx.json: tensor 'w' maps to "..\/secret.safetensors"; shard names must be plain file names/);
    expect(() => parseShardIndex("{", "idx.json")).toThrow(/idx.json: not valid JSON/);
    expect(() => parseShardIndex({ metadata: {} })).toThrow(/no "weight_map" object/);
    expect(() => loadShards(parseShardIndex(index), (f) => shards[f]!.slice(0, 20), "idx.json")).toThrow(/idx.json: shard model-00001-of-00002.safetensors: /);
  });
});

describe("loading from a URL, a Response or a Blob (no Node module on the path)", () => {
  it("fetchSafetensors reads URLs, Responses and Blobs; fetchShards fetches an index and its shards", async () => {
    const bytes = shards["model-00002-of-00002.safetensors"]!.slice();
    for (const source of [new Blob([bytes]), new Response(new Blob([bytes])), `${base}model-00002-of-00002.safetensors`, new URL(`${base}model-00002-of-00002.safetensors`)]) {
      expect(Object.keys((await fetchSafetensors(source)).tensors).sort()).toEqual(["fc.bias", "steps", "unlisted"]);
    }
    expect(values(await fetchShards(`${base}model.safetensors.index.json`))).toEqual(expected);
    await expect(fetchSafetensors(`${base}nope.safetensors`)).rejects.toThrow(ValueError);
    await expect(fetchSafetensors(`${base}nope.safetensors`)).rejects.toThrow(/nope.safetensors answered HTTP 404 Not Found; expected a safetensors file/);
  });
});
