/**
 * The test command's lint gate catches what it promises to: a dropped promise, an explicit `any`
 * and an unused export fail `npm test`. Each probe is a tiny project in a temporary folder, linted
 * with this repository's own ESLint config and its knip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lint-gate-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the lint gate of npm test', () => {
  it('npm test runs lint (ESLint, Prettier, knip) before the type-check and the suites', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toMatch(/^npm run lint && tsc --noEmit && vitest run$/);
    expect(pkg.scripts.lint).toContain('eslint .');
    expect(pkg.scripts.lint).toContain('prettier --check .');
    expect(pkg.scripts.lint).toContain('knip');
  });

  it('ESLint (type-aware, the project config) fails a floating promise and an explicit any', async () => {
    const dir = project({
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          types: [],
        },
        include: ['*.ts'],
      }),
      'probe.ts':
        'async function work(): Promise<void> {}\n' +
        'export function handler(): void {\n  work();\n}\n' +
        'export function loose(x: any): unknown {\n  return x;\n}\n',
    });
    const eslint = new ESLint({ cwd: dir, overrideConfigFile: join(ROOT, 'eslint.config.js') });
    const [result] = await eslint.lintFiles(['probe.ts']);
    const rules = result.messages.map((m) => m.ruleId);
    expect(rules).toContain('@typescript-eslint/no-floating-promises');
    expect(rules).toContain('@typescript-eslint/no-explicit-any');
    expect(result.errorCount).toBeGreaterThanOrEqual(2);
  });

  it('knip fails an unused export', () => {
    const dir = project({
      'package.json': JSON.stringify({ name: 'probe', type: 'module', private: true }),
      'knip.json': JSON.stringify({ entry: ['main.ts'], project: ['*.ts'] }),
      'main.ts': "import { used } from './lib.js';\nconsole.log(used);\n",
      'lib.ts': 'export const used = 1;\nexport const forgotten = 2;\n',
    });
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/knip/bin/knip.js'), '--directory', dir], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/Unused exports[\s\S]*forgotten/);
  });
});
