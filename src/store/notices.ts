/** One-time notices on issues: whether one was posted, and recording that it was. */
import type { Kysely } from 'kysely';
import type { Database, NoticeKind } from './schema.js';
import type { IssueKey } from './tasks.js';
import { nowIso } from './time.js';

export async function noticePosted(db: Kysely<Database>, key: IssueKey, kind: NoticeKind): Promise<boolean> {
  const row = await db
    .selectFrom('issue_notices')
    .select('comment_id')
    .where('forge', '=', key.forge)
    .where('repo_id', '=', key.repoId)
    .where('issue_number', '=', key.issueNumber)
    .where('kind', '=', kind)
    .executeTakeFirst();
  return row !== undefined;
}

/** Records a posted notice; a second record of the same notice changes nothing. */
export async function recordNotice(db: Kysely<Database>, key: IssueKey, kind: NoticeKind, commentId: number): Promise<void> {
  await db
    .insertInto('issue_notices')
    .values({ forge: key.forge, repo_id: key.repoId, issue_number: key.issueNumber, kind, comment_id: commentId, posted_at: nowIso() })
    .onConflict((oc) => oc.columns(['forge', 'repo_id', 'issue_number', 'kind']).doNothing())
    .execute();
}
