import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  complexityDelta,
  fileComplexities,
  languageOf,
  loadComplexity,
  type ComplexityAnalyzer,
} from '../../../src/rewards/signals/index.js';

const JS = `export function plain(a) {
  return a + 1;
}
export function branches(a, b = 2, { c = 3 } = {}) {
  if (a > 0) {
    return 'pos';
  } else if (a < 0) {
    return 'neg';
  }
  for (let i = 0; i < b; i++) { if (i === c) break; }
  for (const k in a) { void k; }
  for (const v of [a]) { void v; }
  while (a > 10) a--;
  do { a++; } while (a < 0);
  try { a = a ?? 0; } catch { a = 0; }
  switch (a) { case 1: case 2: break; default: break; }
  return a && b || c ? a?.x : a?.[0] ?? b?.();
}
export const arrow = (x) => x ? 1 : 2;
export class Shape {
  area(w, h) { return w > 0 && h > 0 ? w * h : 0; }
  static from(o) { o ||= {}; o.w ??= 1; return new Shape(o); }
  size = this.w ?? 0;
  static { if (Shape.size) Shape.size = 0; }
}
export function outer(list) {
  if (!list) return [];
  return list.filter((x) => x > 0 && x < 10);
}
export function* gen(n) { while (n--) yield n; }
export const fnExpr = function (a) { return a || 0; };
export const obj = {
  method(a) { return a ? 1 : 0; },
  prop: (a) => a,
};
export const top = globalThis.x ? 1 : 0;
`;

const TS = `export function typed(a: number = 1, b?: string): string {
  return b ?? String(a);
}
export class Service {
  constructor(private readonly retries = 3) {}
  async fetch(url: string): Promise<number> {
    for (let i = 0; i < this.retries; i++) {
      try { return await get(url); } catch (e) { if (i === this.retries - 1) throw e; }
    }
    return -1;
  }
}
type Choice<T> = T extends string ? 'a' : 'b';
export const handler = async <T,>(x: T | undefined): Promise<T | null> => x ?? null;
function overloaded(a: string): string;
function overloaded(a: number): number;
function overloaded(a: unknown): unknown { return typeof a === 'string' ? a : a; }
interface Shape { area(): number }
declare function get(url: string): Promise<number>;
export type { Choice, Shape };
export { overloaded };
`;

const PY = `CONFIG = {} if DEBUG else None


def simple(x):
    return x + 1


def classify(n, items):
    if n > 0 and n < 10:
        kind = 'small'
    elif n >= 10 or n < -10:
        kind = 'big'
    else:
        kind = 'other'
    evens = [i for i in items if i % 2 == 0]
    label = 'many' if len(evens) > 3 else 'few'
    for item in items:
        try:
            int(item)
        except ValueError:
            pass
    while n > 100:
        n //= 2
    match kind:
        case 'small':
            pass
        case 'big':
            pass
        case _:
            pass
    return kind, label


class Repo:
    def get(self, key, default=None):
        if key in self.data:
            return self.data[key]
        return default

    @staticmethod
    def make():
        return Repo(lambda x: x or 0)
`;

/** ESLint's own `complexity` rule (max 0 reports every function), keyed by line. */
function eslintComplexity(code: string, filename: string): Map<number, number> {
  const linter = new Linter({ configType: 'flat' });
  const config: Linter.Config[] = [
    {
      files: ['**/*.js', '**/*.ts'],
      languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
      rules: { complexity: ['error', 0] },
    },
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser as Linter.Parser } },
  ];
  const out = new Map<number, number>();
  for (const m of linter.verify(code, config, { filename })) {
    if (m.fatal) throw new Error(m.message);
    // Field initializers and static blocks are not functions to the analyzer (file level).
    if (/^Class (field initializer|static block)/.test(m.message)) continue;
    const n = /complexity of (\d+)/.exec(m.message)?.[1];
    if (n !== undefined) out.set(m.line, Number(n));
  }
  return out;
}

describe('cyclomatic complexity (tree-sitter)', () => {
  let analyzer: ComplexityAnalyzer;
  beforeAll(async () => {
    analyzer = await loadComplexity();
  });

  it('loads once per process', async () => {
    const [a, b] = await Promise.all([loadComplexity(), loadComplexity()]);
    expect(a).toBe(analyzer);
    expect(b).toBe(analyzer);
  });

  it('knows languages by extension and returns null for the others', () => {
    expect(languageOf('src/a.ts')).toBe('typescript');
    expect(languageOf('C:\\repo\\src\\View.TSX')).toBe('tsx');
    expect(languageOf('lib/x.mjs')).toBe('javascript');
    expect(languageOf('tool.py')).toBe('python');
    expect(languageOf('main.go')).toBeNull();
    expect(languageOf('Makefile')).toBeNull();
    expect(languageOf('constructor')).toBeNull();
    expect(analyzer.cyclomatic('main.go', 'package main')).toBeNull();
  });

  it('gives JavaScript functions the known complexities', () => {
    const r = analyzer.cyclomatic('src/shapes.js', JS);
    expect(r?.functions.map((f) => [f.name, f.line, f.complexity])).toEqual([
      ['plain', 1, 1],
      ['branches', 4, 23],
      ['arrow', 19, 2],
      ['Shape.area', 21, 3],
      ['Shape.from', 22, 3],
      ['outer', 26, 2],
      ['<anonymous>', 28, 2],
      ['gen', 30, 2],
      ['fnExpr', 31, 2],
      ['method', 33, 2],
      ['prop', 34, 1],
    ]);
    // Σ functions (43) + file-level decisions: field `??`, static-block `if`, top-level `?:`.
    expect(r?.total).toBe(43 + 3);
    expect(r?.parseErrors).toBe(false);
  });

  it('agrees with ESLint’s complexity rule on JavaScript and TypeScript', () => {
    for (const [file, code] of [
      ['src/shapes.js', JS],
      ['src/service.ts', TS],
    ] as const) {
      const ours = new Map(analyzer.cyclomatic(file, code)?.functions.map((f) => [f.line, f.complexity]));
      expect(ours).toEqual(eslintComplexity(code, file));
    }
  });

  it('gives TypeScript functions the known complexities, ignoring types and overload signatures', () => {
    const r = analyzer.cyclomatic('src/service.ts', TS);
    expect(r?.functions.map((f) => [f.name, f.complexity])).toEqual([
      ['typed', 3],
      ['Service.constructor', 2],
      ['Service.fetch', 4],
      ['handler', 2],
      ['overloaded', 2],
    ]);
    expect(r?.total).toBe(13);
  });

  it('parses TSX', () => {
    const tsx = `export function Button({ label }: { label?: string }) {\n  return label ? <button>{label}</button> : null;\n}\n`;
    const r = analyzer.cyclomatic('src/Button.tsx', tsx);
    expect(r).toMatchObject({ total: 2, parseErrors: false, functions: [{ name: 'Button', line: 1, complexity: 2 }] });
  });

  it('gives Python functions the known complexities', () => {
    const r = analyzer.cyclomatic('app/classify.py', PY);
    expect(r?.functions.map((f) => [f.name, f.line, f.complexity])).toEqual([
      ['simple', 4, 1],
      // if, and, elif, or, comprehension for + if, conditional expr, for, except, while, 2 cases
      ['classify', 8, 13],
      ['Repo.get', 35, 2],
      ['Repo.make', 41, 1], // the `def` line, not the decorator's
      ['<lambda>', 42, 2],
    ]);
    expect(r?.total).toBe(19 + 1); // + the module-level conditional expression
  });

  it('still measures a file with syntax errors, and says so', () => {
    const r = analyzer.cyclomatic('bad.py', 'def ok(a):\n    return a or 1\n\ndef broken(:\n');
    expect(r?.parseErrors).toBe(true);
    expect(r?.functions[0]).toMatchObject({ name: 'ok', complexity: 2 });
    expect(analyzer.cyclomatic('empty.ts', '')).toEqual({ total: 0, functions: [], parseErrors: false });
  });
});

describe('complexityDelta', () => {
  const BEFORE = `export function price(q) {\n  if (q > 10) return q * 0.9;\n  return q;\n}\n`;
  const AFTER = `export function price(q, vip) {\n  if (q > 10 && vip) return q * 0.8;\n  if (q > 10) return q * 0.9;\n  if (vip) return q * 0.95;\n  return q;\n}\n`;

  it('is negative when complexity grew and positive when it shrank', async () => {
    const analyzer = await loadComplexity();
    const before = fileComplexities(analyzer, { 'src/price.js': BEFORE, 'README.md': '# x' });
    const after = fileComplexities(analyzer, { 'src/price.js': AFTER, 'README.md': '# y' });
    expect(before).toEqual({ 'src/price.js': 2, 'README.md': null });
    expect(after).toEqual({ 'src/price.js': 5, 'README.md': null });
    // (2 - 5) / max(2, 20)
    expect(complexityDelta(before, after)).toBeCloseTo(-0.15, 12);
    // (5 - 2) / max(5, 20): the floor applies both ways.
    expect(complexityDelta(after, before)).toBeCloseTo(0.15, 12);
    expect(complexityDelta(before, before)).toBe(0);
  });

  it('counts a new file against an empty before and a deleted one as a gain', async () => {
    const analyzer = await loadComplexity();
    const created = fileComplexities(analyzer, { 'src/new.py': 'def f(a):\n    return a and 1\n' });
    expect(complexityDelta({}, created)).toBeCloseTo(-2 / 20, 12);
    expect(complexityDelta({ 'src/new.py': null }, created)).toBeCloseTo(-2 / 20, 12);
    expect(complexityDelta({ 'src/old.ts': 30 }, { 'src/old.ts': null })).toBe(1);
  });

  it('scales by the before total, floored, and clamps to [-1, 1]', () => {
    expect(complexityDelta({ a: 100 }, { a: 125 })).toBeCloseTo(-0.25, 12);
    expect(complexityDelta({ a: 100 }, { a: 75 })).toBeCloseTo(0.25, 12);
    expect(complexityDelta({ a: 100 }, { a: 300 })).toBe(-1);
    expect(complexityDelta({ a: 2 }, { a: 4 })).toBeCloseTo(-0.1, 12);
    expect(complexityDelta({ a: 2 }, { a: 4 }, { minBase: 2 })).toBe(-1);
    expect(complexityDelta({}, {})).toBe(0);
    expect(() => complexityDelta({ a: -1 }, {})).toThrow(RangeError);
    expect(() => complexityDelta({}, {}, { minBase: 0 })).toThrow(/minBase/);
  });
});
