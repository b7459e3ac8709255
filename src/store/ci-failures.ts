/**
 * What red pipelines of bot merge requests failed on, kept so the evaluator can tell a failure
 * the change brought from one the target branch already had (tasks/ci-fixes.ts records it,
 * rewards/evaluator.ts reads it).
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { nowIso } from './time.js';

export interface CiFailure {
  taskId: number;
  headSha: string;
  pipelineId: number;
  failedJobs: string[];
  inheritedJobs: string[];
  targetPipelineId: number | null;
}

/** Records a red pipeline's failed jobs once; a redelivery keeps the first reading. */
export async function recordCiFailure(db: Kysely<Database>, f: CiFailure): Promise<void> {
  await db
    .insertInto('ci_failures')
    .values({
      task_id: f.taskId,
      head_sha: f.headSha,
      pipeline_id: f.pipelineId,
      failed_jobs: JSON.stringify(f.failedJobs),
      inherited_jobs: JSON.stringify(f.inheritedJobs),
      target_pipeline_id: f.targetPipelineId,
      created_at: nowIso(),
    })
    .onConflict((oc) => oc.columns(['task_id', 'pipeline_id']).doNothing())
    .execute();
}

/**
 * The jobs to excuse when the head commit's newest red pipeline failed only in jobs that fail
 * on the target branch too; null when it failed in a job of its own (or none was recorded).
 */
export async function inheritedFailure(db: Kysely<Database>, taskId: number, headSha: string): Promise<string[] | null> {
  const row = await db
    .selectFrom('ci_failures')
    .select(['failed_jobs', 'inherited_jobs'])
    .where('task_id', '=', taskId)
    .where('head_sha', '=', headSha)
    .orderBy('pipeline_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  const failed = JSON.parse(row.failed_jobs) as string[];
  const inherited = new Set(JSON.parse(row.inherited_jobs) as string[]);
  return failed.length > 0 && failed.every((j) => inherited.has(j)) ? failed : null;
}
