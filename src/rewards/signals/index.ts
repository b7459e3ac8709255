/**
 * Signal parsers for the evaluator: report text in, numbers out. No I/O except the lazy,
 * offline grammar load of the complexity analyzer.
 */
export {
  coverageDelta,
  detectCoverageFormat,
  parseCobertura,
  parseCoverage,
  parseLcov,
  type CoverageFormat,
  type CoverageParseOptions,
  type CoverageSummary,
  type FileCoverage,
} from './coverage.js';
export { patchCoverage, patchCoverageScore, patchPercent, type ChangedLine, type PatchCoverage } from './patch.js';
export {
  LINT_SEVERITY_WEIGHT,
  lintScore,
  parseCodeClimateJson,
  parseEslintJson,
  parseLintReport,
  parseSarifLint,
  type Finding,
  type LintFormat,
  type LintParseOptions,
  type LintScoreOptions,
  type Severity,
} from './lint.js';
export {
  SECURITY_SEVERITY_WEIGHT,
  parseGitlabSast,
  parseSarifSecurity,
  securityScore,
  type SecurityFinding,
  type SecurityParseOptions,
  type SecuritySeverity,
} from './security.js';
export {
  complexityDelta,
  fileComplexities,
  languageOf,
  loadComplexity,
  type ComplexityAnalyzer,
  type ComplexityLanguage,
  type FileComplexity,
  type FunctionComplexity,
} from './complexity.js';
export { newFindings, type MatchableFinding } from './findings.js';
export { ReportError, type ReportFormat } from './report.js';
