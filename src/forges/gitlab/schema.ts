/**
 * The shapes of the GitLab REST v4 answers the forge reads, checked with zod at the edge
 * (gitbeaker's answers are typed, not validated). Only the fields we act on are declared;
 * GitLab sends many more and adds fields between versions, so objects are not strict.
 * Modeled on Renovate's lib/modules/platform/gitlab/schema.ts.
 */
import { z } from 'zod';

export const Note = z.object({ id: z.number().int(), body: z.string().nullish(), system: z.boolean().nullish() });
export type Note = z.infer<typeof Note>;

export const MergeRequest = z.object({
  iid: z.number().int(),
  web_url: z.string(),
  title: z.string(),
  description: z.string().nullish(),
  source_branch: z.string(),
  target_branch: z.string(),
  /** opened, closed, merged, or `locked` (transiently, while merging). */
  state: z.string(),
});
export type MergeRequest = z.infer<typeof MergeRequest>;

/** A user as REST responses embed it. `bot` is only present in some (admin) responses. */
export const User = z.object({ id: z.number().int(), username: z.string(), bot: z.boolean().nullish() });
export type User = z.infer<typeof User>;

export const MergeRequestDetails = MergeRequest.extend({
  sha: z.string().nullish(),
  diff_refs: z.object({ head_sha: z.string().nullish() }).nullish(),
  author: User,
});

export const Approvals = z.object({
  approved_by: z.array(z.object({ user: User, approved_at: z.string().nullish() })).nullish(),
});

export const Reviewer = z.object({
  user: User,
  /** unreviewed, review_started, reviewed, requested_changes, approved, unapproved. */
  state: z.string(),
});

export const AwardEmoji = z.object({ id: z.number().int(), name: z.string(), user: User });

export const Job = z.object({
  id: z.number().int(),
  name: z.string(),
  /** One entry per artifact file: `archive` (what `artifacts:paths` uploads), `metadata`, reports. */
  artifacts: z.array(z.object({ file_type: z.string() })).nullish(),
  /** The archive, on older GitLab versions and alongside `artifacts` on newer ones. */
  artifacts_file: z.object({ filename: z.string().nullish() }).nullish(),
});
export type Job = z.infer<typeof Job>;

/** A pipeline job as the jobs list shows it, for CI fixes: its result and whether it may fail. */
export const CiJob = z.object({
  id: z.number().int(),
  name: z.string(),
  status: z.string(),
  allow_failure: z.boolean().nullish(),
  web_url: z.string().nullish(),
});

/** `GET /projects/:id/merge_requests/:iid/discussions`: threads of notes, diff notes with their position. */
export const Discussion = z.object({
  id: z.string(),
  notes: z
    .array(
      z.object({
        id: z.number().int(),
        body: z.string().nullish(),
        system: z.boolean().nullish(),
        resolvable: z.boolean().nullish(),
        resolved: z.boolean().nullish(),
        author: User,
        position: z.object({ new_path: z.string().nullish(), old_path: z.string().nullish(), new_line: z.number().int().nullish(), old_line: z.number().int().nullish() }).nullish(),
      }),
    )
    .nullish(),
});

export const Pipeline = z.object({ id: z.number().int(), sha: z.string() });
/** An item of `GET /merge_requests/:iid/pipelines`. */
export const MergeRequestPipeline = Pipeline.extend({ ref: z.string(), status: z.string(), source: z.string().nullish(), web_url: z.string() });
export const PipelineDetails = Pipeline.extend({ coverage: z.union([z.string(), z.number()]).nullish() });

/** `GET /projects/:id/issues/:iid`: `state` is `opened` or `closed`, labels are names. */
export const Issue = z.object({
  iid: z.number().int(),
  state: z.enum(['opened', 'closed']),
  title: z.string(),
  description: z.string().nullish(),
  labels: z.array(z.string()),
});

export const Member = z.object({ access_level: z.number().int() });
export const Users = z.array(z.object({ id: z.number().int(), username: z.string() }));

/**
 * One page of a list, as gitbeaker returns it with `showExpanded` and an explicit `page`:
 * the items, and GitLab's `x-next-page` (null on the last page).
 */
export function Page<S extends z.ZodType>(item: S) {
  return z.object({ data: z.array(item), paginationInfo: z.object({ next: z.number().int().nullable() }) });
}

/** A raw file as gitbeaker returns it with `asStream` and `showExpanded`. */
export const RawFile = z.object({
  data: z.custom<ReadableStream<Uint8Array> | null>((value) => value === null || value instanceof ReadableStream),
  headers: z.record(z.string(), z.string()),
});
