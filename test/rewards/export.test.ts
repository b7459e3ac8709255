/** The seed's scoreboard files from the store: rlvr.jsonl and agent_tiers.json, on every backend. */
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportAgentTiers, exportRlvrJsonl } from '../../src/rewards/export.js';
import { syncAgents } from '../../src/store/agents.js';
import type { Database, RewardKind } from '../../src/store/schema.js';
import { backends } from '../helpers/stores.js';
import { shippedAgents } from '../tiers/fixtures.js';

const weights = { test_coverage: 0.3, lint_score: 0.2, security_scan: 0.2, complexity: 0.1, ci_status: 0.1, review_feedback: 0.1 };
const components = {
  test_coverage_delta: 0.5,
  lint_score: 1,
  security_scan_score: 0.75,
  code_complexity_delta: -0.25,
  ci_pipeline_status: 1,
  review_feedback_score: 0,
};

for (const backend of backends) {
  describe(`scoreboard export on ${backend.name}`, () => {
    let store: Awaited<ReturnType<typeof backend.open>>;
    let db: Kysely<Database>;
    beforeEach(async () => {
      store = await backend.open();
      db = store.db;
    });
    afterEach(async () => {
      await store.dispose();
    });

    async function reward(taskId: number, agent: string, value: number, updatedAt: string, kind: RewardKind = 'final', degraded = 0) {
      await db
        .insertInto('rewards')
        .values({
          task_id: taskId,
          agent_name: agent,
          reward: value,
          components: JSON.stringify(components),
          weights: JSON.stringify(weights),
          evaluator_version: '1.0.0',
          hook_duration_ms: 412,
          kind,
          degraded,
          created_at: '2025-08-12T09:00:00.000Z',
          updated_at: updatedAt,
          settled_at: kind === 'provisional' ? null : updatedAt,
        })
        .execute();
    }

    it('writes one line per reward, the seed fields first, in id order', async () => {
      await reward(123, 'agent-bugfix-senior', 3.7, '2025-08-12T10:30:00.000Z');
      await reward(124, 'agent-principal', -1.25, '2025-08-12T10:31:00.000Z', 'provisional', 1);
      const lines: string[] = [];
      expect(await exportRlvrJsonl(db, (line) => lines.push(line))).toBe(2);
      expect(lines).toEqual([
        '{"timestamp":"2025-08-12T10:30:00.000Z","task_id":123,"agent":"agent-bugfix-senior","reward":3.7,' +
          '"components":{"test_coverage_delta":0.5,"lint_score":1,"security_scan_score":0.75,"code_complexity_delta":-0.25,"ci_pipeline_status":1,"review_feedback_score":0},' +
          '"kind":"final","degraded":false,' +
          '"weights":{"test_coverage":0.3,"lint_score":0.2,"security_scan":0.2,"complexity":0.1,"ci_status":0.1,"review_feedback":0.1},' +
          '"evaluator_version":"1.0.0","hook_duration_ms":412}',
        expect.stringMatching(/^\{"timestamp":"2025-08-12T10:31:00.000Z","task_id":124,"agent":"agent-principal","reward":-1.25,.*"kind":"provisional","degraded":true,/),
      ]);
      expect(Object.keys(JSON.parse(lines[1]!))).toEqual([
        'timestamp',
        'task_id',
        'agent',
        'reward',
        'components',
        'kind',
        'degraded',
        'weights',
        'evaluator_version',
        'hook_duration_ms',
      ]);
    });

    it('pages through the table by id, and an updated reward keeps its place', async () => {
      for (let i = 1; i <= 7; i++) await reward(i, 'agent-principal', i, `2025-08-12T10:0${i}:00.000Z`);
      // Rewards are updated in place as the evaluation firms up: the line order stays by id.
      await db.updateTable('rewards').set({ reward: 4.5, updated_at: '2025-08-12T11:00:00.000Z' }).where('task_id', '=', 2).execute();
      const lines: string[] = [];
      expect(await exportRlvrJsonl(db, (l) => lines.push(l), { pageSize: 3 })).toBe(7);
      expect(lines.map((l) => (JSON.parse(l) as { task_id: number; reward: number }).task_id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(JSON.parse(lines[1]!)).toMatchObject({ reward: 4.5, timestamp: '2025-08-12T11:00:00.000Z' });
      // A page size that divides the count exactly ends on an empty page.
      expect(await exportRlvrJsonl(db, () => {}, { pageSize: 7 })).toBe(7);
    });

    it('streams newline-terminated lines into a Writable, waiting when it is full', async () => {
      for (let i = 1; i <= 5; i++) await reward(i, 'agent-principal', i, `2025-08-12T10:0${i}:00.000Z`);
      const chunks: string[] = [];
      let writes = 0;
      const slow = new Writable({
        highWaterMark: 16,
        write(chunk: Buffer, _encoding, done) {
          writes++;
          chunks.push(chunk.toString('utf8'));
          setTimeout(done, 5);
        },
      });
      expect(await exportRlvrJsonl(db, slow, { pageSize: 2 })).toBe(5);
      await new Promise<void>((resolve) => slow.end(resolve));
      const text = chunks.join('');
      expect(text.endsWith('\n')).toBe(true);
      expect(text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { task_id: number }).task_id)).toEqual([1, 2, 3, 4, 5]);
      expect(writes).toBe(3);
    });

    it('fails when the stream does', async () => {
      await reward(1, 'agent-principal', 1, '2025-08-12T10:00:00.000Z');
      await reward(2, 'agent-principal', 1, '2025-08-12T10:01:00.000Z');
      const broken = new Writable({
        highWaterMark: 1,
        write(_chunk, _encoding, done) {
          setTimeout(() => done(new Error('disk full')), 1);
        },
      });
      broken.on('error', () => {});
      await expect(exportRlvrJsonl(db, broken, { pageSize: 1 })).rejects.toThrow('disk full');
    });

    it('writes nothing for an empty store', async () => {
      const lines: string[] = [];
      expect(await exportRlvrJsonl(db, (l) => lines.push(l))).toBe(0);
      expect(lines).toEqual([]);
      expect(await exportAgentTiers(db)).toEqual({ agents: {} });
    });

    it('exports agent tiers: tier, rolling average and when the standing last moved', async () => {
      await syncAgents(db, shippedAgents());
      const created = (await db.selectFrom('agents').select('created_at').executeTakeFirstOrThrow()).created_at;
      await db.updateTable('agents').set({ tier: 'senior', rolling_avg: 3.7 }).where('name', '=', 'agent-bugfix-senior').execute();
      // Newest settled reward after the newest tier change: the reward's time.
      await reward(1, 'agent-bugfix-senior', 3.7, '2999-08-12T10:30:00.000Z');
      // A newer provisional reward does not count.
      await reward(2, 'agent-bugfix-senior', 1, '2999-09-01T00:00:00.000Z', 'provisional');
      // A tier change newer than any reward: its time.
      await reward(3, 'agent-principal', 2, '2999-01-01T00:00:00.000Z', 'manual');
      await db
        .insertInto('tier_history')
        .values({
          agent_name: 'agent-principal',
          from_tier: 'principal',
          to_tier: 'senior',
          reason: 'test',
          source: 'manual',
          rolling_avg: 2,
          created_at: '2999-02-01T00:00:00.000Z',
        })
        .execute();
      await db.updateTable('agents').set({ tier: 'senior', rolling_avg: 2, active: 0 }).where('name', '=', 'agent-principal').execute();

      const file = await exportAgentTiers(db);
      expect(Object.keys(file)).toEqual(['agents']);
      expect(Object.keys(file.agents)).toEqual(shippedAgents().map((a) => a.name).sort());
      expect(file.agents['agent-bugfix-senior']).toEqual({ tier: 'senior', rolling_avg: 3.7, last_updated: '2999-08-12T10:30:00.000Z' });
      expect(file.agents['agent-principal']).toEqual({ tier: 'senior', rolling_avg: 2, last_updated: '2999-02-01T00:00:00.000Z' });
      // Without rewards: when its first tier was recorded.
      expect(file.agents['agent-feature-junior']).toEqual({ tier: 'junior', rolling_avg: 0, last_updated: created });
      expect(JSON.parse(JSON.stringify(file))).toEqual(file);
    });
  });
}
