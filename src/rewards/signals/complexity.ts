/**
 * `code_complexity_delta`: the bot measures cyclomatic complexity itself, because CI rarely
 * reports it. Sources are parsed with tree-sitter (WebAssembly, so no native build and no
 * network: the grammars ship in @vscode/tree-sitter-wasm).
 *
 * Counting follows ESLint's `complexity` rule (classic variant) for TypeScript/JavaScript, so
 * numbers agree with what developers see in their editor: 1 per function, +1 for each `if`
 * (an `else if` is an `if`), `for`, `for…in/of`, `while`, `do`, non-default `case`, `catch`,
 * `?:`, `&&`, `||`, `??`, `&&=`/`||=`/`??=`, `?.` and default value. Python counts as radon
 * does: `if`, `elif`, `for`, `while`, `except`, `case` (except `case _`), conditional
 * expression, each `and`/`or`, and each `for`/`if` in a comprehension.
 * Decisions belong to the innermost function; code outside any function (module level, class
 * field initializers, static blocks) is counted in the file total without the +1.
 */
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import type { Language, Node as SyntaxNode, Parser, TreeCursor } from 'web-tree-sitter';
import { toPosixPath } from './paths.js';

export type ComplexityLanguage = 'typescript' | 'tsx' | 'javascript' | 'python';

export interface FunctionComplexity {
  /** `name`, `Class.method`, or `<anonymous>` / `<lambda>`. */
  name: string;
  /** 1-based line of the function's start. */
  line: number;
  complexity: number;
}

export interface FileComplexity {
  /** Σ function complexities + decisions outside functions; 0 for a file with no code. */
  total: number;
  functions: FunctionComplexity[];
  /** The parser recovered from syntax errors; figures are best-effort. */
  parseErrors: boolean;
}

export interface ComplexityAnalyzer {
  languageOf(path: string): ComplexityLanguage | null;
  /** null for a language the analyzer does not know. */
  cyclomatic(path: string, source: string): FileComplexity | null;
}

const EXTENSIONS: Readonly<Record<string, ComplexityLanguage>> = {
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.py': 'python',
  '.pyi': 'python',
};

export function languageOf(path: string): ComplexityLanguage | null {
  const ext = posix.extname(toPosixPath(path)).toLowerCase();
  return Object.hasOwn(EXTENSIONS, ext) ? (EXTENSIONS[ext] ?? null) : null;
}

let loading: Promise<ComplexityAnalyzer> | undefined;

/**
 * The analyzer, initialized once per process on first use (the WebAssembly runtime and four
 * grammars take ~100 ms to load). A failed load is not cached, so a later call may retry.
 */
export function loadComplexity(): Promise<ComplexityAnalyzer> {
  loading ??= init().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

async function init(): Promise<ComplexityAnalyzer> {
  const { Parser: ParserClass, Language: LanguageClass } = await import('web-tree-sitter');
  await ParserClass.init();
  const require = createRequire(import.meta.url);
  const load = (grammar: string): Promise<Language> =>
    LanguageClass.load(require.resolve(`@vscode/tree-sitter-wasm/wasm/tree-sitter-${grammar}.wasm`));
  const [typescript, tsx, javascript, python] = await Promise.all([
    load('typescript'),
    load('tsx'),
    load('javascript'),
    load('python'),
  ]);
  const parsers = new Map<ComplexityLanguage, Parser>();
  for (const [name, lang] of [
    ['typescript', typescript],
    ['tsx', tsx],
    ['javascript', javascript],
    ['python', python],
  ] as const) {
    const parser = new ParserClass();
    parser.setLanguage(lang);
    parsers.set(name, parser);
  }
  return {
    languageOf,
    cyclomatic(path, source) {
      const language = languageOf(path);
      const parser = language && parsers.get(language);
      if (!language || !parser) return null;
      const tree = parser.parse(source);
      if (!tree) throw new Error(`tree-sitter could not parse ${path}`);
      try {
        return measure(tree.rootNode, language === 'python' ? PYTHON : ECMASCRIPT);
      } finally {
        tree.delete();
      }
    },
  };
}

/** How one language family marks functions and decision points. */
interface Rules {
  isFunction(type: string): boolean;
  /** Code that runs in its own scope but is not a function (class field initializers, static blocks). */
  isImplicitScope(type: string): boolean;
  /** Decision points the node adds; `skipChildren` for tokens whose children are not code. */
  decisions(type: string, named: boolean, node: () => SyntaxNode): number;
  skipChildren(type: string): boolean;
  functionName(node: SyntaxNode): string;
}

const ECMA_FUNCTIONS = new Set([
  'function_declaration',
  'function_expression',
  'function',
  'generator_function_declaration',
  'generator_function',
  'arrow_function',
  'method_definition',
]);
const ECMA_DECISIONS = new Set([
  'if_statement',
  'for_statement',
  'for_in_statement',
  'while_statement',
  'do_statement',
  'catch_clause',
  'ternary_expression',
  'switch_case',
  'assignment_pattern',
  'object_assignment_pattern',
  'optional_chain',
]);
const LOGICAL = new Set(['&&', '||', '??']);
const LOGICAL_ASSIGN = new Set(['&&=', '||=', '??=']);

const ECMASCRIPT: Rules = {
  isFunction: (type) => ECMA_FUNCTIONS.has(type),
  isImplicitScope: (type) => type === 'class_static_block' || type === 'public_field_definition' || type === 'field_definition',
  decisions(type, named, node) {
    if (!named) return type === '?.' ? 1 : 0; // TS grammars: `f?.()` has a bare `?.` token
    if (ECMA_DECISIONS.has(type)) return 1;
    if (type === 'binary_expression') return LOGICAL.has(node().childForFieldName('operator')?.type ?? '') ? 1 : 0;
    if (type === 'augmented_assignment_expression') {
      return LOGICAL_ASSIGN.has(node().childForFieldName('operator')?.type ?? '') ? 1 : 0;
    }
    if (type === 'required_parameter' || type === 'optional_parameter') {
      return node().childForFieldName('value') ? 1 : 0; // TS default value: `x: T = v`
    }
    return 0;
  },
  skipChildren: (type) => type === 'optional_chain',
  functionName(node) {
    const own = node.childForFieldName('name')?.text;
    const parent = node.parent;
    if (own !== undefined) {
      const cls = node.type === 'method_definition' ? enclosingClassName(node) : undefined;
      return cls ? `${cls}.${own}` : own;
    }
    if (!parent) return '<anonymous>';
    const label =
      parent.type === 'variable_declarator'
        ? parent.childForFieldName('name')
        : parent.type === 'assignment_expression'
          ? parent.childForFieldName('left')
          : parent.type === 'pair'
            ? parent.childForFieldName('key')
            : parent.type === 'public_field_definition' || parent.type === 'field_definition'
              ? (parent.childForFieldName('name') ?? parent.childForFieldName('property'))
              : null;
    return label?.text ?? '<anonymous>';
  },
};

function enclosingClassName(node: SyntaxNode): string | undefined {
  for (let p = node.parent; p; p = p.parent) {
    if (p.type === 'class_declaration' || p.type === 'abstract_class_declaration' || p.type === 'class') {
      return p.childForFieldName('name')?.text;
    }
    if (ECMA_FUNCTIONS.has(p.type)) return undefined;
  }
  return undefined;
}

const PYTHON_DECISIONS = new Set([
  'if_statement',
  'elif_clause',
  'for_statement',
  'while_statement',
  'except_clause',
  'except_group_clause',
  'conditional_expression',
  'boolean_operator',
  'for_in_clause',
  'if_clause',
]);

const PYTHON: Rules = {
  isFunction: (type) => type === 'function_definition' || type === 'lambda',
  isImplicitScope: () => false,
  decisions(type, named, node) {
    if (!named) return 0;
    if (PYTHON_DECISIONS.has(type)) return 1;
    if (type === 'case_clause') {
      const pattern = node().namedChildren.find((c) => c?.type === 'case_pattern');
      return pattern && pattern.text.trim() === '_' ? 0 : 1;
    }
    return 0;
  },
  skipChildren: () => false,
  functionName(node) {
    if (node.type === 'lambda') {
      const parent = node.parent;
      return parent?.type === 'assignment' ? (parent.childForFieldName('left')?.text ?? '<lambda>') : '<lambda>';
    }
    const own = node.childForFieldName('name')?.text ?? '<anonymous>';
    let p = node.parent;
    if (p?.type === 'decorated_definition') p = p.parent;
    const cls = p?.type === 'block' ? p.parent : null;
    const clsName = cls?.type === 'class_definition' ? cls.childForFieldName('name')?.text : undefined;
    return clsName ? `${clsName}.${own}` : own;
  },
};

interface Unit {
  depth: number;
  /** null for an implicit scope, whose decisions count at file level. */
  fn: FunctionComplexity | null;
}

/** Depth-first walk with a cursor (cheaper than materializing every node). */
function measure(root: SyntaxNode, rules: Rules): FileComplexity {
  const cursor: TreeCursor = root.walk();
  const functions: FunctionComplexity[] = [];
  const open: Unit[] = [];
  let topLevel = 0;
  let depth = 0;
  let entering = true;
  try {
    for (;;) {
      if (entering) {
        const type = cursor.nodeType;
        const named = cursor.nodeIsNamed;
        if (named && rules.isFunction(type)) {
          const node = cursor.currentNode;
          const fn = { name: rules.functionName(node), line: node.startPosition.row + 1, complexity: 1 };
          functions.push(fn);
          open.push({ depth, fn });
        } else if (named && rules.isImplicitScope(type)) {
          open.push({ depth, fn: null });
        } else {
          const d = rules.decisions(type, named, () => cursor.currentNode);
          if (d > 0) {
            const fn = open[open.length - 1]?.fn;
            if (fn) fn.complexity += d;
            else topLevel += d;
          }
        }
        if (!rules.skipChildren(type) && cursor.gotoFirstChild()) {
          depth++;
          continue;
        }
      }
      if (open[open.length - 1]?.depth === depth) open.pop();
      if (cursor.gotoNextSibling()) {
        entering = true;
        continue;
      }
      if (!cursor.gotoParent()) break;
      depth--;
      entering = false;
    }
  } finally {
    cursor.delete();
  }
  functions.sort((a, b) => a.line - b.line);
  const total = functions.reduce((sum, f) => sum + f.complexity, topLevel);
  return { total, functions, parseErrors: root.hasError };
}

/**
 * Complexity totals for a set of files, ready for {@link complexityDelta}: null for a file
 * that does not exist on that side (`null` source) or whose language is not supported.
 */
export function fileComplexities(
  analyzer: ComplexityAnalyzer,
  sources: Readonly<Record<string, string | null>>,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [path, source] of Object.entries(sources)) {
    out[path] = source === null ? null : (analyzer.cyclomatic(path, source)?.total ?? null);
  }
  return out;
}

/**
 * `code_complexity_delta` in [-1, 1]: `(before - after) / max(before, minBase)`, clamped, where
 * before/after are the summed totals of the changed files (a missing or null entry counts 0, so
 * a new file counts against an empty before and a deleted one is pure gain). Negative when
 * complexity grew: doubling it (or adding `minBase` = 20 to a small base) is -1, cutting it by
 * a quarter is +0.25. The floor keeps a 2 → 4 change in a tiny file from reading as -1.
 */
export function complexityDelta(
  before: Readonly<Record<string, number | null>>,
  after: Readonly<Record<string, number | null>>,
  options: { minBase?: number } = {},
): number {
  const minBase = options.minBase ?? 20;
  if (!(minBase > 0)) throw new RangeError(`minBase must be > 0, got ${minBase}`);
  const sum = (r: Readonly<Record<string, number | null>>): number =>
    Object.values(r).reduce<number>((s, v) => {
      if (v !== null && (!Number.isFinite(v) || v < 0)) throw new RangeError(`complexity must be a non-negative number, got ${v}`);
      return s + (v ?? 0);
    }, 0);
  const b = sum(before);
  const a = sum(after);
  const delta = (b - a) / Math.max(b, minBase);
  return Math.max(-1, Math.min(1, delta)) + 0;
}
