/**
 * `npm run bench`: every benchmark, one after the other (never at once: they would measure
 * each other). A module that is not there yet is skipped; each exports `run()`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MODULES = ['webhook', 'workspace', 'rewards'];

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
