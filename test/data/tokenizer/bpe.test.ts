import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../../../src/errors.ts';
import { ByteLevelBpeTokenizer, bytesToSymbols, loadTokenizer, saveTokenizer, trainBpe } from '../../../src/data/tokenizer/index.ts';
import { Rng } from '../../../src/data/rng.ts';
import { chainPreTokenizer, translateOnigurumaPattern } from '../../../src/data/tokenizer/pretokenize.ts';

const VARIED = [
  'Hello, world! The quick brown fox jumps over the lazy dog.',
  "It's 2024; we've got 3.14159 and 1,000,000 reasons — don't we?",
  'Emoji: 👋🏽 👨‍👩‍👧‍👦 🎉✨ and flags 🇫🇷🇯🇵',
  '中文文本：我们的模型。日本語のテキスト、カタカナ。한국어 텍스트',
  'Combining: e\u0301 a\u0308 n\u0303 — precomposed é ä ñ; Ελληνικά, русский, العربية, עברית',
  'whitespace   runs\t\ttabs\n\n\nnewlines  \r\n trailing   ',
  'code: for (let i = 0; i < n; i++) { x[i] += y[i] * 2; } // done',
];

/** A varied corpus: the sentences above, reshuffled and repeated, plus seeded random words. */
function corpus(seed: number, docs: number): string[] {
  const rng = new Rng(seed);
  const words = VARIED.join(' ').split(/\s+/);
  const out: string[] = [];
  for (let d = 0; d < docs; d++) {
    const n = 5 + rng.int(40);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(words[rng.int(words.length)]!);
    out.push(parts.join(rng.int(5) === 0 ? '\n' : ' '));
  }
  return [...VARIED, ...out];
}

function hf(json: unknown): HfTokenizer {
  return new HfTokenizer(json as object, { clean_up_tokenization_spaces: false });
}

describe('trainBpe', () => {
  const tok = trainBpe(corpus(1, 400), { vocabSize: 600, minFrequency: 1 });

  it('lays out 256 byte tokens, merges, then the special tokens', () => {
    expect(tok.vocabSize).toBe(600);
    expect(tok.idToToken(32)).toBe('Ġ');
    expect(tok.idToToken(10)).toBe('Ċ');
    expect(tok.special).toEqual({ bos: 597, eos: 598, pad: 599 });
    expect(tok.parts.merges.length).toBeGreaterThanOrEqual(600 - 259);
    expect(tok.idToToken(599)).toBe('<|pad|>');
  });

  it('compresses the text it was trained on', () => {
    const text = VARIED.join('\n');
    expect(tok.encode(text).length).toBeLessThan(new TextEncoder().encode(text).length * 0.7);
  });

  it('round-trips any UTF-8 text exactly', () => {
    for (const t of [...VARIED, '', ' ', '\n', '  \n\t ', '💩'.repeat(5), 'never seen: ʕ•ᴥ•ʔ ⅞ ∑ 𝔘𝔫𝔦', '<|eos|> as text']) {
      expect(tok.decode(tok.encode(t))).toBe(t);
    }
    // unseen random code points, including astral ones
    const rng = new Rng(9);
    let s = '';
    for (let i = 0; i < 500; i++) {
      const cp = rng.int(4) === 0 ? 0x10000 + rng.int(0x1000) : 32 + rng.int(0x3000);
      if (cp >= 0xd800 && cp < 0xe000) continue;
      s += String.fromCodePoint(cp);
    }
    expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('maps special-token text to ids only with allowSpecial, and skips them on request', () => {
    const eos = tok.special.eos!;
    expect(tok.encode('a<|eos|>b', { allowSpecial: true })).toContain(eos);
    expect(tok.encode('a<|eos|>b')).not.toContain(eos);
    const ids = tok.encode('hi<|eos|>', { addBos: true, allowSpecial: true });
    expect(ids[0]).toBe(tok.special.bos);
    expect(tok.decode(ids)).toBe('<|bos|>hi<|eos|>');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('hi');
  });

  it('gives each token its bytes, which concatenate to the text', () => {
    const text = 'naïve 👋🏽 中文';
    const ids = tok.encode(text);
    const bytes = ids.flatMap((id) => [...tok.tokenBytes(id)]);
    expect(Buffer.from(bytes).toString('utf8')).toBe(text);
    expect([...tok.tokenBytes(tok.special.eos!)]).toEqual([...Buffer.from('<|eos|>')]);
  });

  it('rejects a vocab size below 256 + specials, naming both numbers', () => {
    expect(() => trainBpe('abc', { vocabSize: 200 })).toThrow(InputError);
    expect(() => trainBpe('abc', { vocabSize: 200 })).toThrow(/200.*259/);
  });

  it('is deterministic', () => {
    const again = trainBpe(corpus(1, 400), { vocabSize: 600, minFrequency: 1 });
    expect(again.parts.merges).toEqual(tok.parts.merges);
    // with the default minFrequency of 2 the merges stop early on this small corpus
    const frequent = trainBpe(corpus(1, 400), { vocabSize: 600 });
    expect(frequent.vocabSize).toBeLessThanOrEqual(600);
    expect(frequent.parts.merges).toEqual(tok.parts.merges.slice(0, frequent.parts.merges.length));
  });
});

describe('tokenizer.json', () => {
  const tok = trainBpe(corpus(2, 400), { vocabSize: 700 });
  const dir = mkdtempSync(join(tmpdir(), 'ds-tok-'));

  it('a file we write loads in @huggingface/tokenizers and encodes to the same ids', () => {
    const path = join(dir, 'tokenizer.json');
    saveTokenizer(tok, path);
    const ref = hf(JSON.parse(readFileSync(path, 'utf8')));
    for (const text of [...VARIED, corpus(3, 30).join('\n'), 'special <|eos|> inside']) {
      const ours = tok.encode(text, { allowSpecial: true });
      expect(ref.encode(text).ids).toEqual(ours);
      expect(ref.decode(ours)).toBe(text);
    }
    const back = loadTokenizer(path);
    expect(back).toBeInstanceOf(ByteLevelBpeTokenizer);
    expect(back.encode(VARIED.join(' '))).toEqual(tok.encode(VARIED.join(' ')));
    expect(back.special).toEqual(tok.special);
  });

  it('loads an HF-written file, merges in both the string and the pair form', () => {
    const vocab: Record<string, number> = {};
    for (let b = 0; b < 256; b++) vocab[bytesToSymbols(Uint8Array.of(b))] = b;
    const merged = ['Ġt', 'he', 'Ġthe', 'Ġw', 'or', 'ld', 'Ġwor', 'Ġworld'];
    merged.forEach((t, i) => (vocab[t] = 256 + i));
    vocab['<|endoftext|>'] = 264;
    const pairs: [string, string][] = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['Ġ', 'w'], ['o', 'r'], ['l', 'd'], ['Ġw', 'or'], ['Ġwor', 'ld']];
    for (const form of ['string', 'pair'] as const) {
      const json = {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: [{ id: 264, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges: form === 'string' ? pairs.map((p) => p.join(' ')) : pairs },
      };
      const path = join(dir, `hf-${form}.json`);
      writeFileSync(path, JSON.stringify(json));
      const ours = loadTokenizer(path);
      const text = 'in the world, the worldly ther<|endoftext|>';
      const ids = ours.encode(text, { allowSpecial: true });
      expect(ids).toEqual(hf(json).encode(text).ids);
      expect(ids.slice(0, 4)).toEqual([105, 110, 258, 263]); // "i" "n" "Ġthe" "Ġworld"
      expect(ours.special.eos).toBe(264);
      expect(ours.decode(ids)).toBe(text);
    }
  });

  it('loads a Llama-3 style Sequence[Split, ByteLevel] pre-tokenizer and matches HF on it', () => {
    const llama3 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
    const json = tok.toTokenizerJson() as Record<string, unknown> & { model: Record<string, unknown> };
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: llama3 }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
    json.model.ignore_merges = true;
    const path = join(dir, 'llama3-style.json');
    writeFileSync(path, JSON.stringify(json));
    const ours = loadTokenizer(path);
    const text = VARIED.join('\n') + " IT'S 1234567 DON'T\r\n\n  x";
    expect(ours.encode(text)).toEqual(hf(json).encode(text).ids);
    expect(ours.decode(ours.encode(text))).toBe(text);
    // the translated pattern: digits in groups of at most three, contractions in any case
    const split = chainPreTokenizer([translateOnigurumaPattern(llama3)!]);
    expect(split("1234567 IT'S we'VE")).toEqual(['123', '456', '7', ' IT', "'S", ' we', "'VE"]);
    expect(translateOnigurumaPattern(String.raw`\p{L}++|a?+|\d{1,3}+`)).toBe(String.raw`\p{L}+|a?|\d{1,3}`);
  });

  it('names the file and the JSON path of a malformed entry', () => {
    const good = tok.toTokenizerJson() as { model: { merges: unknown[]; vocab: Record<string, unknown> } };
    const cases: [(j: typeof good) => void, RegExp][] = [
      [(j) => (j.model.merges[3] = 42), /model\.merges\[3\]/],
      [(j) => (j.model.merges[1] = ['Ġ', 'nosuchtoken']), /model\.merges\[1\]\[1\].*nosuchtoken/],
      [(j) => (j.model.vocab.a = 'x'), /model\.vocab\["a"\]/],
      [(j) => ((j as unknown as Record<string, unknown>).pre_tokenizer = { type: 'Metaspace' }), /pre_tokenizer\.type/],
    ];
    for (const [mutate, message] of cases) {
      const j = structuredClone(good);
      mutate(j);
      const path = join(dir, 'bad.json');
      writeFileSync(path, JSON.stringify(j));
      expect(() => loadTokenizer(path)).toThrow(FormatError);
      expect(() => loadTokenizer(path)).toThrow(message);
      expect(() => loadTokenizer(path)).toThrow(path);
    }
    writeFileSync(join(dir, 'notjson.json'), '{"model": ');
    expect(() => loadTokenizer(join(dir, 'notjson.json'))).toThrow(/notjson\.json: not valid JSON/);
    expect(() => loadTokenizer(join(dir, 'missing.json'))).toThrow(InputError);
  });
});
