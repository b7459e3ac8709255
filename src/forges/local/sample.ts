/**
 * The demo's sample repository: a tiny ES module with a bug, its failing test, and its own
 * lint (ESLint's JSON format) and security (SARIF) checks, so every signal parser has a real
 * report to read. `fixPatch` is the change that fixes it, for the scripted agent.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LocalCommands } from '../../config/schema.js';
import { git } from '../../workspace/git.js';

const BUGGY = `/** Adds two numbers. */
export function add(a, b) {
  return a - b;
}

/** The sum of a list. */
export function sum(values) {
  let total = 0;
  for (const v of values) total = add(total, v);
  return total;
}
`;

const FIXED = BUGGY.replace('return a - b;', 'return a + b;');

const TEST = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, sum } from '../src/math.js';

test('add adds', () => assert.equal(add(2, 3), 5));
test('sum adds a list', () => assert.equal(sum([1, 2, 3]), 6));
`;

// The repository's own lint: ESLint's JSON format, one finding per \`var\` or loose equality.
const LINT = `import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const results = readdirSync('src').filter((f) => f.endsWith('.js')).map((f) => {
  const filePath = join(process.cwd(), 'src', f);
  const messages = [];
  readFileSync(filePath, 'utf8').split('\\n').forEach((text, i) => {
    if (/\\bvar\\s/.test(text)) messages.push({ ruleId: 'no-var', severity: 2, message: 'Unexpected var.', line: i + 1, column: 1 });
    if (/[^=!]==[^=]/.test(text)) messages.push({ ruleId: 'eqeqeq', severity: 2, message: 'Expected ===.', line: i + 1, column: 1 });
  });
  return { filePath, messages, errorCount: messages.length, warningCount: 0 };
});
process.stdout.write(JSON.stringify(results));
`;

// The repository's own security check: SARIF, one finding per eval().
const AUDIT = `import { readdirSync, readFileSync } from 'node:fs';
const results = [];
for (const f of readdirSync('src').filter((f) => f.endsWith('.js'))) {
  readFileSync('src/' + f, 'utf8').split('\\n').forEach((text, i) => {
    if (/\\beval\\(/.test(text)) results.push({ ruleId: 'no-eval', level: 'error', message: { text: 'eval() runs arbitrary code' }, properties: { 'security-severity': '8.0' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'src/' + f }, region: { startLine: i + 1 } } }] });
  });
}
process.stdout.write(JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'sample-audit', rules: [] } }, results }] }));
`;

export const sampleCommands: LocalCommands = {
  test: { run: ['node', '--test'], timeout_ms: 120_000 },
  coverage: {
    run: ['node', '--test', '--experimental-test-coverage', '--test-reporter=lcov', '--test-reporter-destination=lcov.info'],
    report: 'lcov.info',
    timeout_ms: 120_000,
  },
  lint: { run: ['node', 'scripts/lint.mjs'], timeout_ms: 60_000 },
  security: { run: ['node', 'scripts/audit.mjs'], timeout_ms: 60_000 },
};

const FILES: Record<string, string> = {
  'package.json': `${JSON.stringify({ name: 'doom-demo-sample', private: true, type: 'module', scripts: { test: 'node --test' } }, null, 2)}\n`,
  'src/math.js': BUGGY,
  'test/math.test.js': TEST,
  'scripts/lint.mjs': LINT,
  'scripts/audit.mjs': AUDIT,
  '.gitignore': 'lcov.info\n',
  'README.md': '# doom demo sample\n\n`add()` subtracts; `npm test` fails.\n',
};

const IDENTITY = { GIT_AUTHOR_NAME: 'doom demo', GIT_AUTHOR_EMAIL: 'demo@localhost', GIT_COMMITTER_NAME: 'doom demo', GIT_COMMITTER_EMAIL: 'demo@localhost' };

/** Writes and commits the sample on `main`; returns the patch that fixes it. */
export async function createSampleRepository(dir: string): Promise<{ fixPatch: string }> {
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await git(['init', '--quiet', '--initial-branch=main'], { cwd: dir });
  await git(['add', '-A'], { cwd: dir });
  await git(['commit', '--quiet', '-m', 'A sum that subtracts'], { cwd: dir, env: IDENTITY });
  await writeFile(join(dir, 'src/math.js'), FIXED);
  const fixPatch = `${await git(['diff'], { cwd: dir })}\n`;
  await git(['checkout', '--quiet', '--', 'src/math.js'], { cwd: dir });
  return { fixPatch };
}
