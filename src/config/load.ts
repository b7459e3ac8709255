/**
 * Reads `doom-rlvr.toml` and the agent files beside it. Any problem throws a ConfigError
 * naming the file, the field and what was expected, before anything starts.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { agentFileSchema, type AgentFile } from '../agents/schema.js';
import { ConfigError, describeIssues } from './errors.js';

export interface LoadedConfig {
  config: Config;
  agents: AgentFile[];
  configPath: string;
  agentsDir: string;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read: ${(error as Error).message}`);
  }
}

function validate<T extends z.ZodType>(schema: T, data: unknown, path: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (!result.success) throw new ConfigError(describeIssues(path, result.error));
  return result.data;
}

export function parseConfigText(text: string, path: string): Config {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : '';
    throw new ConfigError(`${path}: not valid TOML${where}: ${(error as Error).message.split('\n')[0]}`);
  }
  return validate(configSchema, data, path);
}

export function parseAgentText(text: string, path: string): AgentFile {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new ConfigError(`${path}: not valid YAML${where}: ${(error as Error).message.split('\n')[0]}`);
  }
  return validate(agentFileSchema, data, path).agent;
}

/** Loads every `*.yml`/`*.yaml` in `dir`; file names must match the agent's name. */
export function loadAgents(dir: string): AgentFile[] {
  if (!existsSync(dir)) throw new ConfigError(`${dir}: agents directory does not exist`);
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'template.yml')
    .sort();
  const agents: AgentFile[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const path = join(dir, file);
    const agent = parseAgentText(readText(path), path);
    const stem = basename(file).replace(/\.ya?ml$/, '');
    if (stem !== agent.name) {
      throw new ConfigError(`${path}: agent.name: expected "${stem}" (the file name), got "${agent.name}"`);
    }
    const other = seen.get(agent.name);
    if (other) throw new ConfigError(`${path}: agent.name: "${agent.name}" is already defined in ${other}`);
    seen.set(agent.name, path);
    agents.push(agent);
  }
  return agents;
}

/** Loads the config file and the agents in `<config dir>/agents`. */
export function loadConfig(configPath: string): LoadedConfig {
  const config = parseConfigText(readText(configPath), configPath);
  const agentsDir = join(dirname(configPath), 'agents');
  return { config, agents: loadAgents(agentsDir), configPath, agentsDir };
}
