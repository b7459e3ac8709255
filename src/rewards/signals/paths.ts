/**
 * Path normalization shared by the report parsers. Tools disagree on how they name a file
 * (ESLint: absolute OS path; SARIF: file:// URI or a URI relative to %SRCROOT%; Cobertura:
 * relative to a <source>; Windows runners: backslashes), while the forge gives changed files
 * as repo-relative POSIX paths. Everything is brought to that one form so findings can be
 * matched against the MR's changed files by plain string equality.
 */
import { posix } from 'node:path';

const DRIVE = /^[A-Za-z]:\//;

/** Backslashes to slashes, `file://` URIs to paths, `.`/`..` folded, no trailing slash. */
export function toPosixPath(raw: string): string {
  let p = raw.trim();
  if (/^file:/i.test(p)) p = fileUriToPath(p);
  p = p.replace(/\\/g, '/');
  // `/C:/x` (what a file URI for a Windows path leaves behind) is `C:/x`.
  if (/^\/[A-Za-z]:\//.test(p)) p = p.slice(1);
  const drive = DRIVE.test(p) ? `${p.slice(0, 1).toUpperCase()}:` : '';
  // posix.normalize folds a UNC `//server` prefix to `/server`; keep it apart.
  const unc = !drive && /^\/\/[^/]/.test(p) ? '/' : '';
  const rest = drive ? p.slice(2) : p;
  let norm = posix.normalize(rest);
  if (norm.length > 1 && norm.endsWith('/')) norm = norm.slice(0, -1);
  if (norm === '.') norm = '';
  if (norm.startsWith('./')) norm = norm.slice(2);
  return drive + unc + norm;
}

/** True for `/x`, `C:/x` and `//server/share` (after {@link toPosixPath}). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || DRIVE.test(p);
}

/**
 * A report path made relative to `root` (the checkout the tool ran in). Paths that are
 * already relative are taken as relative to the root. A path outside the root is returned
 * absolute (or starting with `../`): it can never equal a changed file, so it is kept for
 * counting but never scored. Windows roots compare case-insensitively, as the OS does.
 */
export function relativeToRoot(raw: string, root?: string): string {
  const p = toPosixPath(raw);
  if (!root || !isAbsolutePath(p)) return p;
  const r = toPosixPath(root);
  if (r === '') return p;
  const prefix = r.endsWith('/') ? r : `${r}/`;
  const windows = DRIVE.test(r) || r.startsWith('//');
  const [pc, rc] = windows ? [p.toLowerCase(), prefix.toLowerCase()] : [p, prefix];
  if (`${pc}/` === rc) return '';
  return pc.startsWith(rc) ? p.slice(prefix.length) : p;
}

/** Repo-relative form of a changed-file list from the forge, for set lookups. */
export function normalizeChangedFiles(files: readonly string[]): Set<string> {
  return new Set(files.map((f) => toPosixPath(f)).filter((f) => f !== ''));
}

/** `file:///C:/a%20b.ts` → `/C:/a b.ts`; `file://host/share/x` → `//host/share/x`. */
function fileUriToPath(uri: string): string {
  const rest = uri.replace(/^file:/i, '');
  let path: string;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const host = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    const tail = slash === -1 ? '/' : rest.slice(slash);
    path = host === '' || host.toLowerCase() === 'localhost' ? tail : `//${host}${tail}`;
  } else {
    path = rest;
  }
  return safeDecode(path);
}

/** Percent-decoding that leaves malformed escapes as they are instead of throwing. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
