/** GitHub REST API bodies for the forge tests, shaped like the documented responses. */

export const API = 'https://api.github.com';
export const REPO_PATH = '/repos/Codertocat/Hello-World';

/** A user or bot as the REST API embeds it. */
export function account(login: string, id: number, type: 'User' | 'Bot' = 'User') {
  return {
    login,
    id,
    node_id: `MDQ6VXNlcj${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url: `${API}/users/${encodeURIComponent(login)}`,
    html_url: type === 'Bot' ? `https://github.com/apps/${login.replace('[bot]', '')}` : `https://github.com/${login}`,
    type,
    user_view_type: 'public',
    site_admin: false,
  };
}

/** The App's bot account. */
export const botUser = account('doom-rlvr[bot]', 149578925, 'Bot');

/** A pull request opened by the bot; `overrides` replace top-level fields. */
export function pullBody(overrides: Record<string, unknown> = {}) {
  return {
    url: `${API}${REPO_PATH}/pulls/12`,
    id: 279147437,
    node_id: 'MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3',
    html_url: 'https://github.com/Codertocat/Hello-World/pull/12',
    diff_url: 'https://github.com/Codertocat/Hello-World/pull/12.diff',
    number: 12,
    state: 'open',
    locked: false,
    title: 'doom: Add a health check (#7)',
    user: botUser,
    body: 'Closes #7',
    labels: [],
    created_at: '2025-03-01T10:00:00Z',
    updated_at: '2025-03-01T10:00:00Z',
    closed_at: null,
    merged_at: null,
    merge_commit_sha: 'e5bd3914e2e596debea16f433f57875b5b90bcd6',
    draft: false,
    head: {
      label: 'Codertocat:doom/7-health-check',
      ref: 'doom/7-health-check',
      sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      user: account('Codertocat', 21031067),
    },
    base: {
      label: 'Codertocat:master',
      ref: 'master',
      sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
      user: account('Codertocat', 21031067),
    },
    author_association: 'NONE',
    merged: false,
    mergeable: true,
    comments: 0,
    review_comments: 0,
    commits: 1,
    additions: 20,
    deletions: 2,
    changed_files: 3,
    ...overrides,
  };
}

