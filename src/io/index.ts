/** Reading and writing tensors: safetensors bytes, state dicts and checkpoints (browser-safe). */
export { serialize, deserialize, FormatError, MAX_HEADER_BYTES, type SafetensorsDType, type SerializeOptions } from "./safetensors.js";
export {
  stateDictToBytes,
  bytesToStateDict,
  checkpointToBytes,
  checkpointFromBytes,
  type StateDict,
  type StateDictSource,
  type StateTree,
  type StoredTypedArray,
  type Checkpoint,
  type CheckpointInput,
} from "./checkpoint.js";
export { parseShardIndex, loadShards, fetchSafetensors, fetchShards, type ShardIndex, type ShardReader, type SafetensorsSource } from "./sharded.js";
