/**
 * The messages between a load-test coordinator and its agents over NATS (JSON payloads).
 *
 *   streamedge.loadtest.ready              agent → all    {agentId, host, cores}      every second while idle
 *   streamedge.loadtest.assign.<agentId>   coord → agent  {runId, pool, startAt, allowHosts}
 *   streamedge.loadtest.<runId>.progress   agent → coord  {agentId, counters}         every second
 *   streamedge.loadtest.<runId>.done       agent → coord  {agentId, stats, cpuSec, ...}  HDR histograms inside
 *   streamedge.loadtest.<runId>.failed     agent → coord  {agentId, error}
 *   streamedge.loadtest.<runId>.stop       coord → agents {}                            Ctrl-C
 */
import type { SerializedStats } from './load-stats.js';
import type { ProgressCounters } from './report.js';
import type { PoolOptions } from './viewer-pool.js';

export const SUBJECT = {
  ready: 'streamedge.loadtest.ready',
  assign: (agentId: string) => `streamedge.loadtest.assign.${agentId}`,
  progress: (runId: string) => `streamedge.loadtest.${runId}.progress`,
  done: (runId: string) => `streamedge.loadtest.${runId}.done`,
  failed: (runId: string) => `streamedge.loadtest.${runId}.failed`,
  stop: (runId: string) => `streamedge.loadtest.${runId}.stop`,
};

export interface ReadyMessage {
  agentId: string;
  host: string;
  cores: number;
}

export interface AssignMessage {
  runId: string;
  pool: PoolOptions;
  /** Epoch ms at which every agent starts its viewers (the coordinator's clock + a lead time). */
  startAt: number;
  allowHosts: string[];
  workers?: number;
}

export interface ProgressMessage {
  agentId: string;
  counters: ProgressCounters;
}

export interface DoneMessage {
  agentId: string;
  host: string;
  viewers: number;
  workers: number;
  stats: SerializedStats;
  cpuSec: number;
  elapsedSec: number;
  maxRssMB: number;
  /** Over the hold (from 1 s after the ramp's end to the end): CPU seconds, wall seconds, requests. */
  holdCpuSec: number;
  holdSec: number;
  holdRequests: number;
}

export interface FailedMessage {
  agentId: string;
  error: string;
}

/** What the report says about each agent. */
export interface AgentReport {
  agentId: string;
  host: string;
  viewers: number;
  workers: number;
  cpuSec: number;
  cores: number;
  /** The agent's CPU over the hold only (from 1 s after the ramp's end), seconds and cores. */
  holdCpuSec: number;
  holdCores: number;
  holdSec: number;
  holdRequests: number;
  eventLoopDelayP99Ms: number;
  /** This agent kept up (event-loop delay p99 below the limit); otherwise `warning` says it was the bottleneck. */
  valid: boolean;
  warning?: string;
  maxRssMB: number;
  requests: number;
}
