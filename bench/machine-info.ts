/**
 * The `machine` block every bench/results/*.json carries, in one shape: what ran the bench and
 * how loaded the machine was before and after (these machines are shared; a ratio measured under
 * load average 14 on 2 cores reads differently from one measured on a quiet box).
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGB: number | null;
  node: string;
  platform: string | null;
  loadAverageBefore: number[] | null;
  loadAverageAfter: number[] | null;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Call when the bench starts; pass the result to `finishMachineInfo` when it ends. */
export function startMachineInfo(): MachineInfo {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: round2(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadAverageBefore: loadavg().map(round2),
    loadAverageAfter: null,
  };
}

export function finishMachineInfo(m: MachineInfo): MachineInfo {
  return { ...m, loadAverageAfter: loadavg().map(round2) };
}

export const MACHINE_KEYS: readonly (keyof MachineInfo)[] = [
  'cpus',
  'cpuModel',
  'memoryGB',
  'node',
  'platform',
  'loadAverageBefore',
  'loadAverageAfter',
];
