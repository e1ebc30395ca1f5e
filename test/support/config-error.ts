import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

/** The ConfigError message loadConfig raises for `env`, or a failure when it accepts it. */
export function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}
