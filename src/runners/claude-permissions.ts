/**
 * An agent's `tools_allowed` and `permissions` as Claude Code permission rules. Claude Code
 * runs with `--permission-mode dontAsk`: nothing prompts in headless mode, every tool call
 * not pre-approved by an allow rule is denied, and deny rules win over everything. Checked
 * against Claude Code 2.1.197:
 * - `--tools` is the set of built-in tools the model even sees;
 * - `Edit(//<workdir>/**)` allows Edit and Write inside the worktree only (a bare `Edit`
 *   rule does not cover Write, and a bare `Write` would allow writing anywhere);
 * - `Bash(git)` + `Bash(git *)` allow `git …` and deny `touch x`, `git x; touch y`, `gitx`
 *   (read-only commands such as `echo`, `ls`, `cat` inside the worktree stay allowed; Claude
 *   Code treats them as reads);
 * - `Read(//etc/**)` denies the Read tool there and also Bash commands that read there
 *   (`cat /etc/hostname` was denied).
 * These rules bind Claude Code's own tools; what an allowed command does once it runs
 * (`npm test` runs arbitrary scripts) is only contained by the bwrap sandbox.
 */
import { absoluteForbidden } from './sandbox.js';
import type { PermissionsConfig } from './config.js';

export interface ClaudePermissionRules {
  /** `--tools`: built-in tools the model sees. */
  tools: string[];
  /** `--allowedTools`: pre-approved tool uses. */
  allow: string[];
  /** `--disallowedTools`: denied tool uses (win over allow). */
  deny: string[];
}

const editTools = new Set(['Edit', 'Write', 'MultiEdit']);

const baseName = (rule: string): string => rule.replace(/\(.*$/s, '').trim();

/** A path as Claude Code's rule syntax wants it: `//abs/path` anchors at the file-system root. */
const rulePath = (abs: string): string => `/${abs}`;

const commandAllowed = (pattern: string, commands: string[]): boolean =>
  commands.some((c) => pattern === c || pattern.startsWith(`${c} `) || pattern.startsWith(`${c}:`));

export const claudePermissionRules = (
  toolsAllowed: string[],
  permissions: Pick<PermissionsConfig, 'allowed_commands' | 'forbidden_paths'>,
  ctx: { workdir: string; homes: string[] },
): ClaudePermissionRules => {
  const tools = new Set<string>();
  const allow = new Set<string>();
  const commands = permissions.allowed_commands;

  for (const rule of toolsAllowed) {
    const name = baseName(rule);
    if (name === '') continue;
    const scoped = rule.trim() !== name;
    if (name === 'Bash' && commands !== undefined) {
      if (commands.length === 0) continue;
      if (scoped) {
        const inner = rule.slice(rule.indexOf('(') + 1, rule.lastIndexOf(')'));
        if (commandAllowed(inner, commands)) {
          allow.add(rule);
          tools.add('Bash');
        }
        continue;
      }
      tools.add('Bash');
      for (const c of commands) allow.add(`Bash(${c})`).add(`Bash(${c} *)`);
      continue;
    }
    if (editTools.has(name)) {
      tools.add('Edit').add('Write');
      allow.add(scoped ? rule : `Edit(${rulePath(ctx.workdir)}/**)`);
      continue;
    }
    tools.add(name);
    allow.add(rule);
  }

  const deny = new Set<string>();
  for (const p of permissions.forbidden_paths) {
    for (const abs of absoluteForbidden(p, ctx.workdir, ctx.homes)) {
      for (const tool of ['Read', 'Edit']) {
        deny.add(`${tool}(${rulePath(abs)})`).add(`${tool}(${rulePath(abs)}/**)`);
      }
    }
  }
  return { tools: [...tools], allow: [...allow], deny: [...deny] };
};
