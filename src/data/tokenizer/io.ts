/**
 * Load and save tokenizer.json. A file with a ByteLevel pre-tokenizer is a ByteLevelBpeTokenizer;
 * a BPE model with no merges, no pre-tokenizer and a non-ByteLevel decoder is a CharTokenizer.
 * A tokenizer_config.json next to the file supplies the chat template and bos/eos/pad names.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FormatError, InputError } from '../../errors.ts';
import { ByteLevelBpeTokenizer } from './bpe.ts';
import { CharTokenizer } from './char.ts';
import type { TokenizerConfigJson } from './tokenizer-json.ts';
import type { Tokenizer } from './types.ts';

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read tokenizer file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FormatError(file, `not valid JSON: ${(err as Error).message}`);
  }
}

/** Decide the kind of a decoded tokenizer.json and build it. */
export function tokenizerFromJson(obj: unknown, file: string, config: TokenizerConfigJson | null = null): Tokenizer {
  const o = obj as { model?: { merges?: unknown }; pre_tokenizer?: unknown; decoder?: { type?: unknown } | null } | null;
  const noMerges = Array.isArray(o?.model?.merges) && o.model.merges.length === 0;
  if (o && noMerges && (o.pre_tokenizer === null || o.pre_tokenizer === undefined) && o.decoder?.type !== 'ByteLevel') {
    return CharTokenizer.fromTokenizerJson(obj, file);
  }
  return ByteLevelBpeTokenizer.fromTokenizerJson(obj, file, config);
}

/** Load a tokenizer.json (and its sibling tokenizer_config.json, if present). */
export function loadTokenizer(path: string): Tokenizer {
  const obj = readJson(path);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const config = existsSync(configPath) ? (readJson(configPath) as TokenizerConfigJson) : null;
  return tokenizerFromJson(obj, path, config);
}

/**
 * The files that hold `tok`: tokenizer.json, and with `withConfig` tokenizer_config.json
 * (special tokens and chat template, as HF writes it). Name → text.
 */
export function tokenizerFiles(tok: Tokenizer, opts: { withConfig?: boolean } = {}): Record<string, string> {
  if (!tok.toTokenizerJson) throw new InputError(`this tokenizer cannot be saved as tokenizer.json (${tok.constructor.name})`);
  const out: Record<string, string> = { 'tokenizer.json': JSON.stringify(tok.toTokenizerJson()) + '\n' };
  if (opts.withConfig) {
    const name = (id: number | null): string | null => (id === null ? null : tok.idToToken(id) ?? null);
    const config: Record<string, unknown> = {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: name(tok.special.bos),
      eos_token: name(tok.special.eos),
      pad_token: name(tok.special.pad),
      clean_up_tokenization_spaces: false,
    };
    if (tok.chatTemplate !== null) config.chat_template = tok.chatTemplate;
    out['tokenizer_config.json'] = JSON.stringify(config, null, 2) + '\n';
  }
  return out;
}

/** Write `tok` as tokenizer.json at `path`; with `writeConfig`, also tokenizer_config.json beside it. */
export function saveTokenizer(tok: Tokenizer, path: string, opts: { writeConfig?: boolean } = {}): void {
  const files = tokenizerFiles(tok, { withConfig: opts.writeConfig ?? false });
  writeFileSync(path, files['tokenizer.json']!);
  if (files['tokenizer_config.json'] !== undefined) writeFileSync(join(dirname(path), 'tokenizer_config.json'), files['tokenizer_config.json']);
}
