/**
 * The store operations a worker forwards to the store process (the one writer), as Call frames.
 * A body travels base64 in the JSON: only small ones do (vary records); fills' bytes never do —
 * the store process already holds them (Commit).
 */
import type { ObjectMeta } from '../store/index.js';

type MetaPatch = Partial<Pick<ObjectMeta, 'expiresAt' | 'staleUntil' | 'storedAt' | 'headers'>>;

export type StoreCall =
  | { op: 'put'; key: string; meta: ObjectMeta; body: string }
  | { op: 'updateMeta'; key: string; patch: MetaPatch }
  | { op: 'delete'; key: string }
  | { op: 'purgePrefix'; prefix: string; mode: 'hard' | 'soft' }
  | { op: 'purgeTag'; tag: string; mode: 'hard' | 'soft' };
