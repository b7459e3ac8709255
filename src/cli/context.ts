/** What every CLI command opens: the environment, the config, the store and the forges. */
import { openCore } from '../app.js';
import { readEnvironment, type Environment } from '../config/env.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Logger } from '../log.js';

export type CliContext = Awaited<ReturnType<typeof openCore>> & { env: Environment; loaded: LoadedConfig };

export interface GlobalOptions {
  config?: string;
  database?: string;
}

export function loadSettings(options: GlobalOptions): { env: Environment; loaded: LoadedConfig } {
  const env = readEnvironment();
  if (options.database) env.databaseUrl = options.database;
  return { env, loaded: loadConfig(options.config ?? env.configPath) };
}

/** Opens everything, runs `work`, and always closes the store. */
export async function withContext<T>(options: GlobalOptions, log: Logger, work: (ctx: CliContext) => Promise<T>): Promise<T> {
  const { env, loaded } = loadSettings(options);
  const core = await openCore({ env, loaded, log });
  try {
    return await work({ ...core, env, loaded });
  } finally {
    await core.store.close();
  }
}
