/**
 * SARIF 2.1.0 results, flattened to one record per reported problem. Shared by the lint and
 * security signals, which map `level` or `security-severity` to their own severity scales.
 * Only what scoring needs is validated; unknown properties are ignored, as SARIF allows.
 */
import { z } from 'zod';
import { posix } from 'node:path';
import { isAbsolutePath, relativeToRoot, safeDecode, toPosixPath } from './paths.js';
import { parseJsonReport, ReportError, validateReport } from './report.js';

export type SarifLevel = 'none' | 'note' | 'warning' | 'error';

export interface SarifFinding {
  /**
   * `notification`: an error-level tool notification tied to a file (ESLint reports files it
   * cannot parse this way); `result`: an ordinary result.
   */
  source: 'result' | 'notification';
  file: string;
  line: number;
  rule: string;
  level: SarifLevel;
  message: string;
  fingerprint?: string;
  /** The `security-severity` property (0..10, CVSS-like) of the result or its rule. */
  securitySeverity?: number;
  tool: string;
}

const Level = z.enum(['none', 'note', 'warning', 'error']);
const PropertyBag = z.record(z.string(), z.unknown());
const ArtifactLocation = z.object({
  uri: z.string().optional(),
  uriBaseId: z.string().optional(),
  index: z.number().int().optional(),
});
const Rule = z.object({
  id: z.string(),
  defaultConfiguration: z.object({ level: Level.optional() }).optional(),
  properties: PropertyBag.optional(),
});
const ToolComponent = z.object({ name: z.string(), rules: z.array(Rule).optional() });
const Locations = z
  .array(
    z.object({
      physicalLocation: z
        .object({
          artifactLocation: ArtifactLocation.optional(),
          region: z.object({ startLine: z.number().int().optional() }).optional(),
        })
        .optional(),
    }),
  )
  .optional();
const Notification = z.object({
  level: Level.optional(),
  message: z.object({ text: z.string().optional() }).optional(),
  locations: Locations,
  descriptor: z.object({ id: z.string().optional() }).optional(),
});
const Result = z.object({
  ruleId: z.string().optional(),
  ruleIndex: z.number().int().optional(),
  rule: z
    .object({
      id: z.string().optional(),
      index: z.number().int().optional(),
      toolComponent: z.object({ index: z.number().int().optional() }).optional(),
    })
    .optional(),
  level: Level.optional(),
  kind: z.string().optional(),
  message: z.object({ text: z.string().optional(), id: z.string().optional() }),
  locations: Locations,
  fingerprints: z.record(z.string(), z.string()).optional(),
  partialFingerprints: z.record(z.string(), z.string()).optional(),
  suppressions: z.array(z.object({ status: z.string().optional() })).optional(),
  baselineState: z.string().optional(),
  properties: PropertyBag.optional(),
});
const Run = z.object({
  tool: z.object({ driver: ToolComponent, extensions: z.array(ToolComponent).optional() }),
  results: z.array(Result).nullish(),
  invocations: z
    .array(
      z.object({
        toolConfigurationNotifications: z.array(Notification).optional(),
        toolExecutionNotifications: z.array(Notification).optional(),
      }),
    )
    .optional(),
  artifacts: z.array(z.object({ location: ArtifactLocation.optional() })).optional(),
  originalUriBaseIds: z
    .record(z.string(), z.object({ uri: z.string().optional(), uriBaseId: z.string().optional() }))
    .optional(),
});
const Log = z.object({ version: z.string(), runs: z.array(Run) });

type RunT = z.output<typeof Run>;
type ResultT = z.output<typeof Result>;
type RuleT = z.output<typeof Rule>;

/**
 * Every failing, unsuppressed result of every run, then the error-level notifications that
 * point at a file. Results with `kind` other than `fail`,
 * suppressed ones (a suppression not `rejected`) and `baselineState: absent` are skipped;
 * a missing `level` falls back to the rule's default, then to SARIF's default `warning`.
 */
export function readSarif(text: string, options: { root?: string } = {}): SarifFinding[] {
  const log = validateReport('SARIF', Log, parseJsonReport('SARIF', text));
  if (!log.version.startsWith('2.')) {
    throw new ReportError('SARIF', `version ${log.version} is not supported (expected 2.1.0)`);
  }
  const out: SarifFinding[] = [];
  for (const run of log.runs) {
    for (const result of run.results ?? []) {
      if (result.kind !== undefined && result.kind !== 'fail') continue;
      if (result.baselineState === 'absent') continue;
      if ((result.suppressions ?? []).some((s) => s.status !== 'rejected')) continue;
      const rule = findRule(run, result);
      const physical = result.locations?.[0]?.physicalLocation;
      const security = toSeverityNumber(result.properties?.['security-severity'] ?? rule?.properties?.['security-severity']);
      const finding: SarifFinding = {
        source: 'result',
        file: resultPath(run, physical?.artifactLocation, options.root),
        line: physical?.region?.startLine ?? 0,
        rule: result.ruleId ?? result.rule?.id ?? rule?.id ?? 'unknown',
        level: result.level ?? rule?.defaultConfiguration?.level ?? 'warning',
        message: result.message.text ?? result.message.id ?? '',
        tool: run.tool.driver.name,
      };
      const fingerprint = firstValue(result.fingerprints) ?? firstValue(result.partialFingerprints);
      if (fingerprint !== undefined) finding.fingerprint = fingerprint;
      if (security !== undefined) finding.securitySeverity = security;
      out.push(finding);
    }
    for (const inv of run.invocations ?? []) {
      for (const n of [...(inv.toolConfigurationNotifications ?? []), ...(inv.toolExecutionNotifications ?? [])]) {
        const physical = n.locations?.[0]?.physicalLocation;
        const file = resultPath(run, physical?.artifactLocation, options.root);
        if (n.level !== 'error' || file === '') continue;
        out.push({
          source: 'notification',
          file,
          line: physical?.region?.startLine ?? 0,
          rule: n.descriptor?.id ?? 'tool-error',
          level: 'error',
          message: n.message?.text ?? '',
          tool: run.tool.driver.name,
        });
      }
    }
  }
  return out;
}

function findRule(run: RunT, result: ResultT): RuleT | undefined {
  const componentIndex = result.rule?.toolComponent?.index;
  const component =
    componentIndex === undefined ? run.tool.driver : (run.tool.extensions?.[componentIndex] ?? run.tool.driver);
  const index = result.rule?.index ?? result.ruleIndex;
  if (index !== undefined && index >= 0) {
    const byIndex = component.rules?.[index];
    if (byIndex) return byIndex;
  }
  const id = result.ruleId ?? result.rule?.id;
  if (id === undefined) return undefined;
  for (const c of [run.tool.driver, ...(run.tool.extensions ?? [])]) {
    const hit = c.rules?.find((r) => r.id === id);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * A result's file, repo-relative. Absolute `file:` URIs go through `root`; relative URIs are
 * relative to their `uriBaseId`, resolved through `originalUriBaseIds` when the log defines it
 * and otherwise taken as the repository root (what `%SRCROOT%` means in practice).
 */
function resultPath(run: RunT, loc: z.output<typeof ArtifactLocation> | undefined, root: string | undefined): string {
  if (!loc) return '';
  let uri = loc.uri;
  let baseId = loc.uriBaseId;
  if (uri === undefined && loc.index !== undefined) {
    const art = run.artifacts?.[loc.index]?.location;
    uri = art?.uri;
    baseId = baseId ?? art?.uriBaseId;
  }
  if (uri === undefined) return '';
  if (/^file:/i.test(uri)) return relativeToRoot(uri, root);
  if (/^[a-z][a-z0-9+.-]+:/i.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) return uri; // https: etc.
  let path = toPosixPath(safeDecode(uri));
  for (let depth = 0; baseId !== undefined && !isAbsolutePath(path) && depth < 8; depth++) {
    const base = run.originalUriBaseIds?.[baseId];
    if (base?.uri === undefined) break;
    const basePath = toPosixPath(/^file:/i.test(base.uri) ? base.uri : safeDecode(base.uri));
    path = toPosixPath(posix.join(basePath, path));
    baseId = base.uriBaseId;
  }
  return relativeToRoot(path, root);
}

function firstValue(record: Record<string, string> | undefined): string | undefined {
  if (!record) return undefined;
  const key = Object.keys(record).sort()[0];
  return key === undefined ? undefined : record[key];
}

function toSeverityNumber(raw: unknown): number | undefined {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 10) : undefined;
}
