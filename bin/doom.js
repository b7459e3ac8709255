#!/usr/bin/env node
// In a checkout (src/ present) the TypeScript sources run through tsx, so `npm install &&
// npm start` needs no build step and never runs a stale build; the Docker image ships only
// the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let entry;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = pathToFileURL(source).href;
} else {
  entry = new URL('../dist/cli/main.js', import.meta.url).href;
}
const { main } = await import(entry);
const code = await main(process.argv);
// null: `serve` is running and lives until a signal; every other command is done.
if (code !== null) process.exit(code);
