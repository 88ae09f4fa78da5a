/**
 * Pre-tokenization: split text into words before BPE, so merges never cross word boundaries.
 * GPT-2's pattern (the one HF's ByteLevel pre-tokenizer uses with use_regex: true):
 * English contractions, an optional space + letters, an optional space + digits, an optional
 * space + other symbols, whitespace runs (a run before a word leaves its last space to the word).
 */
export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** A pre-tokenizer: text → words (each word is a substring; concatenated they give the text back). */
export type PreTokenizer = (text: string) => string[];

export function regexPreTokenizer(pattern: string): PreTokenizer {
  const re = new RegExp(pattern, 'gu');
  return (text) => text.match(re) ?? [];
}

export const gpt2PreTokenize: PreTokenizer = regexPreTokenizer(GPT2_PATTERN);

/**
 * Translate an HF (Oniguruma) Split pattern to a JavaScript one: `(?i:...)` groups get their
 * ASCII letters expanded to `[xX]` (Node 20 lacks inline modifiers) and possessive quantifiers
 * (`?+`, `++`, `*+`, `}+`) become greedy ones, which gives the same matches for the
 * Llama-3 / Qwen style patterns. Returns null for constructs it cannot translate.
 */
export function translateOnigurumaPattern(p: string): string | null {
  let out = '';
  let inClass = false;
  const caseStack: boolean[] = []; // per open group: does it switch case-insensitivity on?
  let ci = false;
  let afterQuantifier = false; // a '+' right after a quantifier makes it possessive
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const wasQuantifier: boolean = afterQuantifier;
    afterQuantifier = false;
    if (c === '\\') {
      const next = p[i + 1];
      if (next === undefined || 'AzZGhH'.includes(next)) return null;
      if ((next === 'p' || next === 'P') && p[i + 2] === '{') {
        const close = p.indexOf('}', i);
        if (close < 0) return null;
        out += p.slice(i, close + 1); // \p{L} as one unit, so its '}' is not a quantifier
        i = close;
        continue;
      }
      out += c + next;
      i++;
      continue;
    }
    if (inClass) {
      // Letters inside a class under (?i:) are left as written (ranges would break); the
      // patterns in use only put contractions in case-insensitive groups.
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += p[++i];
      continue;
    }
    if (c === '(') {
      if (p.startsWith('(?i:', i)) {
        caseStack.push(true);
        ci = true;
        out += '(?:';
        i += 3;
        continue;
      }
      const prefix = /^\(\?(?::|=|!|<=|<!)/.exec(p.slice(i))?.[0];
      if (prefix === undefined && p[i + 1] === '?') return null;
      caseStack.push(false);
      out += prefix ?? c;
      i += (prefix ?? c).length - 1;
      continue;
    }
    if (c === ')') {
      caseStack.pop();
      ci = caseStack.includes(true);
      out += c;
      continue;
    }
    if (c === '{') {
      const close = p.indexOf('}', i);
      if (close < 0 || !/^\{\d*,?\d*\}$/.test(p.slice(i, close + 1))) return null;
      out += p.slice(i, close + 1);
      i = close;
      afterQuantifier = true;
      continue;
    }
    if (c === '+' || c === '*' || c === '?') {
      if (c === '+' && wasQuantifier) continue; // possessive → greedy
      out += c;
      afterQuantifier = c !== '?' || !wasQuantifier; // "??" is lazy, not a new quantifier
      continue;
    }
    if (ci && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    new RegExp(out, 'gu');
  } catch {
    return null;
  }
  return out;
}

/**
 * Split like HF's Split pre-tokenizer with behavior "Isolated": each match is a piece and so is
 * each gap between matches, so the pieces always concatenate back to the text.
 */
export function splitIsolated(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    const at = m.index;
    if (m[0].length === 0) continue;
    if (at > last) out.push(text.slice(last, at));
    out.push(m[0]);
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Apply a chain of split patterns (Sequence of Split pre-tokenizers), each to every piece of the previous. */
export function chainPreTokenizer(patterns: readonly string[]): PreTokenizer {
  const res = patterns.map((p) => new RegExp(p, 'gu'));
  return (text) => {
    let pieces = [text];
    for (const re of res) pieces = pieces.flatMap((p) => splitIsolated(p, re));
    return pieces;
  };
}
