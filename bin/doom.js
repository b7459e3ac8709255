#!/usr/bin/env node
// Runs the compiled CLI when `npm run build` has produced it (the Docker image), else the
// TypeScript sources through tsx, so `npm install && npm start` needs no build step.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
let entry;
if (existsSync(compiled)) {
  entry = pathToFileURL(compiled).href;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../src/cli/main.ts', import.meta.url).href;
}
const { main } = await import(entry);
const code = await main(process.argv);
// null: `serve` is running and lives until a signal; every other command is done.
if (code !== null) process.exit(code);
