export { LogStore } from './log-store.js';
export type { ObjectMeta, StoreOptions, StoreStats } from './types.js';
