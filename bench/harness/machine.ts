/** What a figure was measured on: enough to compare results across runs, nothing identifying. */
import os from 'node:os';

export interface MachineDescription {
  platform: string;
  arch: string;
  kernel: string;
  cpuModel: string;
  cpus: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  node: string;
  v8: string;
  zlib: string;
  /** 1-minute load average when the scenario started: other work on the machine skews figures. */
  loadAverage1m: number;
}

export function describeMachine(): MachineDescription {
  const cpus = os.cpus();
  return {
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    zlib: process.versions.zlib ?? 'unknown',
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
  };
}
