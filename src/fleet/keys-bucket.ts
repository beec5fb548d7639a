/** The fleet's KV bucket of verification keys and the upstream credential (readers and writers open it alike). */
import { Kvm, type KV } from '@nats-io/kv';
import { KEYS_BUCKET } from '../signing/kv-key-source.js';
import type { FleetConnection } from './nats-connection.js';

export async function openKeysBucket(conn: FleetConnection): Promise<KV> {
  return new Kvm(conn.nc).create(KEYS_BUCKET, { history: 10 });
}
