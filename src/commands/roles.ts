/**
 * Which role a command needs, from `[commands.roles]`. The check itself is the permission
 * guard that decides labels (src/permissions/guard.ts): one rule for both.
 */
import type { Config } from '../config/schema.js';
import type { Role } from '../permissions/roles.js';
import type { CommandName } from './parse.js';

export function roleFor(config: Pick<Config, 'commands'>, name: CommandName): Role {
  return config.commands.roles[name];
}
