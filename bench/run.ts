/**
 * `npm run bench`: every benchmark, one after the other (never at once: they would measure
 * each other), or only those named (`npm run bench -- rewards`). Each exports `run()`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ALL = ['webhook', 'workspace', 'rewards', 'routing'];
// `npm run bench -- rewards` runs only the named ones.
const named = process.argv.slice(2);
const unknown = named.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`unknown bench: ${unknown.join(', ')} (known: ${ALL.join(', ')})`);
  process.exit(2);
}
const MODULES = named.length > 0 ? named : ALL;

interface BenchModule {
  run(): Promise<void>;
}

let failed = 0;
for (const name of MODULES) {
  const url = new URL(`./${name}.ts`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) continue;
  const started = performance.now();
  try {
    const bench = (await import(url.href)) as BenchModule;
    await bench.run();
    console.log(`\n(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed++;
    console.error(`\nbench ${name} failed:`, error);
  }
}
if (failed > 0) process.exitCode = 1;
