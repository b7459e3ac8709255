/**
 * A tiny pull reader for the XML that coverage tools write (Cobertura). It reads elements,
 * attributes and text, checks that tags nest, and nothing more: no DTD processing and no
 * entity expansion beyond the five predefined entities and character references, so a report
 * cannot make the bot fetch a URL (XXE) or blow up memory (billion laughs). Pulling in a full
 * XML package for a few attributes was not worth a new dependency.
 */

export type XmlEvent =
  | { kind: 'open'; name: string; attrs: ReadonlyMap<string, string>; offset: number }
  | { kind: 'close'; name: string; offset: number }
  | { kind: 'text'; text: string; offset: number };

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
  constructor(
    detail: string,
    readonly offset: number,
  ) {
    super(`${detail} at offset ${offset}`);
  }
}

const NAME = /[A-Za-z_:][-\w.:]*/y;
const ATTR = /\s+([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
const TAG_END = /\s*(\/?)>/y;
const CLOSE = /<\/([A-Za-z_:][-\w.:]*)\s*>/y;

/**
 * Yields elements in document order; a self-closing element yields `open` then `close`.
 * Throws {@link XmlSyntaxError} on unterminated constructs, bad attributes, mismatched tags,
 * text or a second element after the root.
 */
export function* readXml(text: string): Generator<XmlEvent> {
  const stack: string[] = [];
  let sawRoot = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const end = lt === -1 ? text.length : lt;
    if (end > i) {
      const chunk = text.slice(i, end);
      if (stack.length > 0) yield { kind: 'text', text: decodeEntities(chunk, i), offset: i };
      else if (chunk.trim() !== '') throw new XmlSyntaxError('text outside the root element', i);
    }
    if (lt === -1) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      i = skipPast(text, '-->', i, 'unterminated comment');
    } else if (text.startsWith('<![CDATA[', i)) {
      const close = text.indexOf(']]>', i);
      if (close === -1 || stack.length === 0) throw new XmlSyntaxError('unterminated or stray CDATA', i);
      yield { kind: 'text', text: text.slice(i + 9, close), offset: i };
      i = close + 3;
    } else if (text.startsWith('<?', i)) {
      i = skipPast(text, '?>', i, 'unterminated processing instruction');
    } else if (text.startsWith('<!', i)) {
      i = skipDoctype(text, i);
    } else if (text.startsWith('</', i)) {
      CLOSE.lastIndex = i;
      const m = CLOSE.exec(text);
      if (!m) throw new XmlSyntaxError('malformed closing tag', i);
      const name = m[1] ?? '';
      const open = stack.pop();
      if (open !== name) {
        throw new XmlSyntaxError(`</${name}> does not close <${open ?? '(nothing)'}>`, i);
      }
      yield { kind: 'close', name, offset: i };
      i = CLOSE.lastIndex;
    } else {
      const start = i;
      NAME.lastIndex = i + 1;
      const nm = NAME.exec(text);
      if (!nm) throw new XmlSyntaxError('malformed tag', i);
      const name = nm[0];
      if (stack.length === 0 && sawRoot) throw new XmlSyntaxError(`second root element <${name}>`, i);
      sawRoot = true;
      i = NAME.lastIndex;
      const attrs = new Map<string, string>();
      for (;;) {
        ATTR.lastIndex = i;
        const am = ATTR.exec(text);
        if (!am) break;
        attrs.set(am[1] ?? '', decodeEntities(am[2] ?? am[3] ?? '', i));
        i = ATTR.lastIndex;
      }
      TAG_END.lastIndex = i;
      const em = TAG_END.exec(text);
      if (!em) throw new XmlSyntaxError(`malformed attributes in <${name}>`, i);
      i = TAG_END.lastIndex;
      yield { kind: 'open', name, attrs, offset: start };
      if (em[1] === '/') yield { kind: 'close', name, offset: start };
      else stack.push(name);
    }
  }
  if (stack.length > 0) throw new XmlSyntaxError(`<${stack[stack.length - 1]}> is never closed`, text.length);
  if (!sawRoot) throw new XmlSyntaxError('no root element', 0);
}

function skipPast(text: string, marker: string, from: number, error: string): number {
  const at = text.indexOf(marker, from);
  if (at === -1) throw new XmlSyntaxError(error, from);
  return at + marker.length;
}

/** `<!DOCTYPE x SYSTEM "...">` or with an internal subset `[...]`; skipped, never processed. */
function skipDoctype(text: string, from: number): number {
  let depth = 0;
  for (let i = from + 2; i < text.length; i++) {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return i + 1;
  }
  throw new XmlSyntaxError('unterminated declaration', from);
}

const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
]);

function decodeEntities(s: string, offset: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9A-Fa-f]+|#\d+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new XmlSyntaxError(`bad character reference ${whole}`, offset);
      return String.fromCodePoint(code);
    }
    // Entities declared in a DTD are deliberately left unexpanded.
    return PREDEFINED.get(ref) ?? whole;
  });
}
