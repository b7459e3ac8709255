/**
 * One entry point from an agent file's `runner:` and `permissions:` sections to a Runner.
 */
import { ClaudeCodeRunner } from './claude-code.js';
import { CommandRunner } from './command.js';
import { defaultPermissions, type PermissionsConfig, type RunnerConfig } from './config.js';
import type { Runner } from './runner.js';
import type { SandboxContext } from './sandbox.js';
import { ScriptedRunner } from './scripted.js';

export const createRunner = (
  config: RunnerConfig,
  permissions: PermissionsConfig = defaultPermissions(),
  sandbox: SandboxContext = {},
): Runner => {
  switch (config.kind) {
    case 'claude-code':
      return new ClaudeCodeRunner({
        binary: config.binary,
        model: config.model,
        maxTurns: config.max_turns,
        permissions,
        sandbox,
      });
    case 'command':
      return new CommandRunner(config, { permissions, sandbox });
    case 'scripted':
      return new ScriptedRunner(config, { permissions, sandbox });
  }
};

export type { Runner, RunnerInput, RunnerResult, RunOutcome, Usage } from './runner.js';
export { emptyUsage, tokensUsed } from './runner.js';
export {
  runnerConfig,
  permissionsConfig,
  type RunnerConfig,
  type PermissionsConfig,
  type ClaudeCodeRunnerConfig,
  type CommandRunnerConfig,
  type ScriptedRunnerConfig,
} from './config.js';
export { agentEnv } from './env.js';
export { abortReasons, abortOutcome } from './process.js';
export { bwrapAvailable, checkSandbox, SandboxUnavailableError, type SandboxContext } from './sandbox.js';
