export { LogStore } from './log-store.js';
export type { ObjectMeta, StoreOptions, StoreStats, StoredObject, StoreLogger, ByteRange } from './types.js';
export { crc32c } from './crc32c.js';
export { CountMinSketch } from './count-min-sketch.js';
export { RamTier, type RamTierOptions } from './ram-tier.js';
export { LOCK_FILE } from './store-lock.js';
