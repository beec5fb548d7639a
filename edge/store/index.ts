export { LogStore, type EdgeStore } from './log-store.js';
export { ReadOnlyStore } from './read-only-store.js';
export type { ObjectMeta, RamEntry, StoreOptions, StoreStats } from './types.js';
