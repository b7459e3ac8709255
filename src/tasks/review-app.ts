/**
 * Review apps: when a deployment of a bot branch succeeds, its environment URL goes into the
 * merge request description, between markers, so people's own edits to it are kept.
 */
import type { Kysely } from 'kysely';
import type { DeploymentEvent } from '../forges/event.js';
import type { ForgeDirectory } from '../forges/forge.js';
import { audit } from '../store/audit.js';
import type { Database, TaskRow } from '../store/schema.js';
import { getTask, updateTask } from '../store/tasks.js';
import { KeyedMutex } from '../util/mutex.js';

const START = '<!-- doom-rlvr:review-app -->';
const END = '<!-- /doom-rlvr:review-app -->';

/** GitLab's `CI_COMMIT_REF_SLUG`: lowercase, non-alphanumerics as `-`, 63 bytes, no edge dashes. */
export function refSlug(ref: string): string {
  return ref
    .toLowerCase()
    .replace(/[^0-9a-z]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/** Whether a deployment is of this task's branch: by commit, by ref, or by GitLab's review environment name. */
export function deploymentMatches(task: Pick<TaskRow, 'head_sha' | 'branch'>, event: Pick<DeploymentEvent, 'sha' | 'ref' | 'environment'>): boolean {
  if (!task.branch) return false;
  if (task.head_sha && event.sha && task.head_sha === event.sha) return true;
  if (event.ref && event.ref === task.branch) return true;
  return event.environment === `review/${refSlug(task.branch)}`;
}

/** The review-app section for an MR description. */
export const reviewAppSection = (url: string): string => `${START}\n**Review app:** ${url}\n${END}`;

/** The description with its review-app section set to `url`: replaced in place, or added after the first line. */
export function withReviewApp(body: string, url: string): string {
  const section = reviewAppSection(url);
  const start = body.indexOf(START);
  const end = body.indexOf(END);
  if (start !== -1 && end > start) return body.slice(0, start) + section + body.slice(end + END.length);
  const lines = body.split('\n');
  const at = lines.findIndex((l) => /^closes #\d+/i.test(l));
  lines.splice(at === -1 ? lines.length : at + 1, 0, '', section);
  return lines.join('\n');
}

/** Puts review-app URLs into bot merge requests as deployments succeed. */
export class ReviewApps {
  /** One update per task at a time: a redelivery arriving alongside must find the first's work. */
  private readonly lock = new KeyedMutex();

  constructor(private readonly deps: { db: Kysely<Database>; forges: ForgeDirectory }) {}

  async onDeployment(event: DeploymentEvent): Promise<void> {
    if (event.status !== 'success' || !event.environmentUrl) return;
    const url = event.environmentUrl;
    const candidates = await this.deps.db
      .selectFrom('tasks')
      .select(['id', 'head_sha', 'branch'])
      .where('forge', '=', event.forge)
      .where('repo_id', '=', event.repo.id)
      .where('pr_number', 'is not', null)
      .orderBy('id', 'desc')
      .limit(500)
      .execute();
    const match = candidates.find((t) => deploymentMatches(t, event));
    if (!match) return;
    await this.lock.run(String(match.id), async () => {
      const task = await getTask(this.deps.db, match.id);
      if (!task || task.review_app_url === url) return;
      const forge = await this.deps.forges.get(event.forge, event.installationId ?? task.installation_id ?? undefined);
      const repo = { id: task.repo_id, fullName: task.repo };
      const mr = await forge.findMergeRequestByBranch(repo, task.branch!);
      if (!mr) return;
      const body = withReviewApp(mr.body, url);
      if (body !== mr.body) await forge.updateMergeRequest(repo, mr.number, { body });
      await updateTask(this.deps.db, task.id, { review_app_url: url });
      await audit(this.deps.db, {
        event: 'mr.review_app',
        actor: event.sender.login,
        taskId: task.id,
        data: { url, environment: event.environment, mr: mr.url },
      });
    });
  }
}
