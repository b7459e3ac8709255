import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaExport } from '../../src/cli/pipeline.js';
import { ExecutionState, exportSchemas } from '../../src/pipeline/schemas.js';

describe('doom schema export', () => {
  it('writes one JSON Schema file per contract', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'doom-schemas-'));
    try {
      const out = await schemaExport(join(dir, 'schemas'));
      expect(out.split('\n')).toHaveLength(5);
      expect((await readdir(join(dir, 'schemas'))).sort()).toEqual(['ExecutionState.schema.json', 'Implementation.schema.json', 'Policy.schema.json', 'Rubric.schema.json', 'Spec.schema.json']);
      const state = JSON.parse(await readFile(join(dir, 'schemas', 'ExecutionState.schema.json'), 'utf8')) as { $schema: string; title: string; required: string[]; properties: Record<string, unknown> };
      expect(state.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(state.title).toBe('ExecutionState');
      expect(state.required).toEqual(expect.arrayContaining(['phase', 'phases', 'gates_passed', 'budget', 'breakers']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints them as one document without --out, and says what it cannot write', async () => {
    expect(Object.keys(JSON.parse(await schemaExport(undefined)))).toEqual(['Spec', 'Policy', 'Rubric', 'Implementation', 'ExecutionState']);
    const dir = await mkdtemp(join(tmpdir(), 'doom-schemas-'));
    try {
      await writeFile(join(dir, 'a-file'), '');
      await expect(schemaExport(join(dir, 'a-file', 'schemas'))).rejects.toThrow(`cannot write the schemas to ${join(dir, 'a-file', 'schemas')}: ENOTDIR`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('describes the policy\'s gates with their levels', () => {
    const policy = exportSchemas().Policy as { properties: { rubric: { properties: { gates: { properties: Record<string, { enum: string[] }> } } } } };
    expect(policy.properties.rubric.properties.gates.properties.lint!.enum).toEqual(['critical', 'warn', 'off']);
  });

  it('refuses an execution state with an unknown phase', () => {
    expect(ExecutionState.safeParse({ task_id: 1, attempt: 1, priority: 'P2', phase: 'deploy', phases: {}, gates_passed: [], budget: { total: { tokens: 1, usd: 1, wall_ms: 1 }, spent: { tokens: 0, usd: 0, wall_ms: 0 } }, breakers: [], spec: null, implementation: null, outcome: null }).success).toBe(false);
  });
});
