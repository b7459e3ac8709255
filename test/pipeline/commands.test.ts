/**
 * The repository's commands run on agent code, so by default in the agent sandbox: what the
 * bot keeps (its mirror, store, config) is out of their sight, as it is out of the agent's.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/pipeline/commands.js';
import { bwrapAvailable } from '../../src/runners/index.js';
import { tempDir } from '../workspace/helpers.js';

const hasBwrap = await bwrapAvailable();

describe.skipIf(!hasBwrap)('runCommand confined', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let checkout: string;
  let secret: string;
  beforeEach(async () => {
    dir = await tempDir('doom-checks-');
    checkout = join(dir.path, 'checkout');
    await mkdir(checkout);
    const botPlace = join(dir.path, 'store');
    await mkdir(botPlace);
    secret = join(botPlace, 'bot.key');
    await writeFile(secret, 'the bot\'s private key');
  });
  afterEach(() => dir.cleanup());

  // A "test suite" that tries to read the bot's key.
  const snoop = () => ['node', '-e', `process.stdout.write(require('fs').readFileSync(${JSON.stringify(secret)}, 'utf8'))`];

  it('masks the bot\'s places in the sandbox; as the bot\'s user ("none") they are readable', async () => {
    const confined = await runCommand(snoop(), checkout, 30_000, undefined, { sandbox: 'bwrap', hidden: [join(dir.path, 'store')] });
    expect(confined.exitCode).not.toBe(0);
    expect(confined.output).not.toContain('private key');
    const open = await runCommand(snoop(), checkout, 30_000, undefined, { sandbox: 'none', hidden: [] });
    expect(open).toEqual({ exitCode: 0, output: "the bot's private key" });
  });

  it('still runs the checkout\'s own tests, which pass or fail as they do outside', async () => {
    await writeFile(join(checkout, 'ok.test.js'), "require('node:test')('adds', () => require('node:assert').equal(1 + 1, 2));\n");
    await writeFile(join(checkout, 'bad.test.js'), "require('node:test')('adds', () => require('node:assert').equal(1 + 1, 3));\n");
    const confinement = { sandbox: 'bwrap' as const, hidden: [join(dir.path, 'store')] };
    expect((await runCommand(['node', '--test', 'ok.test.js'], checkout, 60_000, undefined, confinement)).exitCode).toBe(0);
    expect((await runCommand(['node', '--test', 'bad.test.js'], checkout, 60_000, undefined, confinement)).exitCode).toBe(1);
  });
});
