/**
 * The order vitest starts test files in: the longest first, so that no long file starts last and
 * runs on alone while the other workers sit idle (in a fresh clone, vitest's own order is by file
 * size, and the one-minute preload-hint file used to start last). A file's length is its last
 * duration in vitest's local cache, or else the one recorded in test/file-durations.json
 * (`node bin/run-ts.js test/support/record-file-durations.ts` writes it from the cache). Files
 * known to neither run last, in vitest's own order.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** test/file-durations.json: seconds per `<project>:<path>`, as the last recorded run took. */
export const DURATIONS_FILE = resolve(fileURLToPath(import.meta.url), '..', '..', 'file-durations.json');

function recordedSeconds(): Map<string, number> {
  try {
    const j = JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as { seconds?: Record<string, number> };
    return new Map(Object.entries(j.seconds ?? {}));
  } catch {
    return new Map();
  }
}

export class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const recorded = recordedSeconds();
    const seconds = (spec: TestSpecification): number => {
      const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
      const cached = this.ctx.cache.getFileTestResults(key)?.duration;
      return cached !== undefined ? cached / 1000 : (recorded.get(key) ?? 0);
    };
    const order = new Map(base.map((spec, i) => [spec, i]));
    return [...base].sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder ||
        (a.project.name === b.project.name ? 0 : a.project.name < b.project.name ? -1 : 1) ||
        seconds(b) - seconds(a) ||
        order.get(a)! - order.get(b)!,
    );
  }
}
