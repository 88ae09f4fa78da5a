import { expect } from 'vitest';
import { ConfigError } from '../../../src/errors.ts';
import { loadConfig } from '../../../src/runtime/config/index.ts';

/** The ConfigError loadConfig throws for `cfg` (fails the test if it does not throw one). */
export function configError(cfg: object | string, dp = 1): ConfigError {
  try {
    loadConfig(cfg, { dpWorldSize: dp });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
