import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../../../src/errors.ts';
import { isValidationRow, openArrowDataset, prepareDataset, validationNote } from '../../../src/data/arrow/index.ts';
import { Rng } from '../../../src/data/rng.ts';
import { loadTokenizer } from '../../../src/data/tokenizer/index.ts';

const WORDS = 'the a model token shard rank epoch gradient 42 3.14 naïve 中文 👋 loss step'.split(' ');

function documents(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = 3 + rng.int(30);
    return Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)]).join(rng.int(6) === 0 ? '\n' : ' ');
  });
}

/** Rows of a split, concatenated. */
function allTokens(dir: string, split: string): number[] {
  const ds = openArrowDataset(dir, split);
  const out: number[] = [];
  for (let i = 0; i < ds.length; i++) out.push(...ds.row(i));
  return out;
}

describe('prepareDataset', () => {
  const root = mkdtempSync(join(tmpdir(), 'ds-prep-'));
  const docs = documents(120, 1);
  const txt = join(root, 'corpus.txt');
  writeFileSync(txt, docs.join('\n\n') + '\n');

  it('packs documents + eos into rows of seq_len+1, every row of the stream to one split', async () => {
    const out = join(root, 'out');
    const m = await prepareDataset({ input: txt, tokenizer: 'train:320', seqLen: 16, out, valFraction: 0.2, seed: 5, shardTokens: 170 });
    expect(m.row_len).toBe(17);
    expect(m.splits.train.shards.length).toBeGreaterThan(1); // 10 rows (170 tokens) per shard
    const tok = loadTokenizer(join(out, 'tokenizer.json'));
    expect(tok.vocabSize).toBe(m.vocab_size);
    // The whole corpus as one packed stream, and the document each token came from.
    const stream: number[] = [];
    const docOf: number[] = [];
    docs.forEach((d, i) => {
      const ids = [...tok.encode(d), m.eos_id];
      stream.push(...ids);
      docOf.push(...ids.map(() => i));
    });
    const totalRows = Math.floor(stream.length / 17);
    for (const split of ['train', 'validation'] as const) {
      const expected: number[] = [];
      const touched = new Set<number>();
      for (let r = 0; r < totalRows; r++) {
        if (isValidationRow(r, 5, 0.2) !== (split === 'validation')) continue;
        expected.push(...stream.slice(r * 17, (r + 1) * 17));
        for (const d of docOf.slice(r * 17, (r + 1) * 17)) touched.add(d);
      }
      expect(allTokens(out, split)).toEqual(expected);
      expect(m.splits[split].documents).toBe(touched.size);
    }
    expect(m.splits.train.dropped_tokens).toBe(stream.length - totalRows * 17);
    // a fifth of the rows, spread evenly: 1 in every 5 consecutive rows
    expect(m.splits.validation.rows).toBeGreaterThanOrEqual(Math.floor(totalRows * 0.2));
    expect(m.splits.validation.rows).toBeLessThanOrEqual(Math.ceil(totalRows * 0.2));
    expect(m.splits.validation.documents).toBeGreaterThan(10);
    const ds = openArrowDataset(out, 'train');
    expect(ds.row(ds.length - 1).length).toBe(17);
    expect(() => ds.row(ds.length)).toThrow(RangeError);

    // the same corpus with the saved tokenizer gives the same rows
    const again = join(root, 'again');
    await prepareDataset({ input: txt, tokenizer: join(out, 'tokenizer.json'), seqLen: 16, out: again, valFraction: 0.2, seed: 5, shardTokens: 1000 });
    expect(allTokens(again, 'train')).toEqual(allTokens(out, 'train'));
  });

  it('holds out validation rows from a single long document (a .txt with no blank lines)', async () => {
    const one = join(root, 'one.txt');
    writeFileSync(one, docs.join('\n') + '\n'); // 120 paragraphs, no blank line: one document
    const m = await prepareDataset({ input: one, tokenizer: 'train:320', seqLen: 16, out: join(root, 'one'), valFraction: 0.05 });
    const rows = m.splits.train.rows + m.splits.validation.rows;
    expect(m.splits.train.documents).toBe(1);
    expect(m.splits.validation.documents).toBe(1);
    expect(rows).toBeGreaterThan(100);
    expect(m.splits.validation.rows).toBeGreaterThanOrEqual(Math.floor(rows * 0.05));
    expect(m.splits.validation.rows).toBeLessThanOrEqual(Math.ceil(rows * 0.05));
    expect(validationNote(m)).toBeNull();
    // any number of rows of at least 1 / val_fraction gets validation rows, whatever the seed
    for (let seed = 0; seed < 50; seed++) {
      let v = 0;
      for (let r = 0; r < 20; r++) v += isValidationRow(r, seed, 0.05) ? 1 : 0;
      expect(v).toBe(1);
    }
  });

  it('says why when a corpus is too small for a validation set', async () => {
    const small = join(root, 'small.txt');
    writeFileSync(small, docs.slice(0, 3).join('\n\n') + '\n');
    const m = await prepareDataset({ input: small, tokenizer: 'train:300', seqLen: 16, out: join(root, 'small'), valFraction: 0.01, seed: 3 });
    expect(m.splits.validation.rows).toBe(0);
    expect(validationNote(m)).toMatch(new RegExp(`gives ${m.splits.train.rows} rows of seq-len \\+ 1 = 17 tokens; .*--val-fraction 0\\.01 needs at least 100 rows`));
    const r = spawnSync(process.execPath, ['bin/ds.js', 'data', 'prepare', '--input', small, '--tokenizer', 'train:300', '--seq-len', '16', '--out', join(root, 'small-cli'), '--seed', '3'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/validation 0 rows/);
    expect(r.stderr).toMatch(/validation: none\. .*needs at least 100 rows/);
  });

  it('reads the "text" field of JSONL, and names the line of a bad one', async () => {
    const jsonl = join(root, 'c.jsonl');
    writeFileSync(jsonl, docs.slice(0, 40).map((text) => JSON.stringify({ text, id: 1 })).join('\n') + '\n');
    const m = await prepareDataset({ input: jsonl, tokenizer: 'train:300', seqLen: 8, out: join(root, 'j'), valFraction: 0 });
    expect(m.splits.train.documents).toBe(40);
    expect(m.splits.validation.rows).toBe(0);
    writeFileSync(jsonl, '{"text": "ok"}\n\n{"text": 3}\n');
    await expect(prepareDataset({ input: jsonl, tokenizer: 'train:300', seqLen: 8, out: join(root, 'j2') })).rejects.toThrow(/c\.jsonl:3: .*"text"/);
    writeFileSync(jsonl, '{"text": "ok"}\n{oops\n');
    await expect(prepareDataset({ input: jsonl, tokenizer: 'train:300', seqLen: 8, out: join(root, 'j2') })).rejects.toThrow(/c\.jsonl:2: not valid JSON/);
  });

  it('gives one clear InputError for a missing input, an empty corpus, a too-small vocab', async () => {
    const o = { tokenizer: 'train:300', seqLen: 8, out: join(root, 'bad') };
    await expect(prepareDataset({ ...o, input: join(root, 'nope.txt') })).rejects.toThrow(InputError);
    writeFileSync(join(root, 'empty.txt'), '\n\n  \n');
    await expect(prepareDataset({ ...o, input: join(root, 'empty.txt') })).rejects.toThrow(/empty corpus/);
    await expect(prepareDataset({ ...o, input: txt, tokenizer: 'train:100' })).rejects.toThrow(/100.*259/);
    await expect(prepareDataset({ ...o, input: txt, seqLen: 100000 })).rejects.toThrow(/fewer than one row/);
  });

  it('checks shards against the manifest', async () => {
    const out = join(root, 'tamper');
    await prepareDataset({ input: txt, tokenizer: 'train:300', seqLen: 16, out, shardTokens: 170 });
    const mpath = join(out, 'manifest.json');
    const m = JSON.parse(readFileSync(mpath, 'utf8'));
    m.splits.train.shards[0].rows += 1;
    writeFileSync(mpath, JSON.stringify(m));
    expect(() => openArrowDataset(out, 'train')).toThrow(FormatError);
    expect(() => openArrowDataset(out, 'train')).toThrow(/train-00000\.arrow: has 10 rows/);
    m.seq_len = 'x';
    writeFileSync(mpath, JSON.stringify(m));
    expect(() => openArrowDataset(out, 'train')).toThrow(/manifest\.json: seq_len/);
  });

  it('the CLI prints an InputError without a stack trace and exits 1', () => {
    const r = spawnSync(process.execPath, ['bin/ds.js', 'data', 'prepare', '--input', join(root, 'missing.txt'), '--tokenizer', 'train:300', '--seq-len', '8', '--out', join(root, 'cli')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ds: error: input file not found');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
